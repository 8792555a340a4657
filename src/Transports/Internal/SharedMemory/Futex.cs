using System;
using System.Runtime.InteropServices;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// <c>futex(2)</c> on a 32-bit word in a shared mapping. The operations are the non-private ones: the kernel keys a shared
/// futex by the mapped file and offset, so a waiter in one process is woken by a waker in another. The private variants
/// (<c>FUTEX_PRIVATE_FLAG</c>) key by address space and would never see the other process.
/// </summary>
internal static unsafe class Futex
{
    private const int FutexWait = 0;
    private const int FutexWake = 1;

    private static readonly nint SyscallNumber = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        // The generic syscall table (arm64, riscv64, loongarch64).
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 98,
        _ => -1,
    };

    /// <summary>Gets whether this architecture is supported (64-bit Linux with a known futex syscall number).</summary>
    public static bool IsSupported => SyscallNumber > 0 && Environment.Is64BitProcess;

    /// <summary>
    /// Sleeps while <c>*word == expected</c>, at most <paramref name="timeoutMilliseconds"/>. Returns early, without
    /// sleeping, when the word already differs (the kernel compares under its own lock, so a wake between our last check
    /// and the sleep is never lost). Spurious returns are possible; callers re-check their condition.
    /// </summary>
    /// <returns><see langword="true"/> when it slept and was woken (not: the word differed, a timeout, a signal).</returns>
    public static bool Wait(int* word, int expected, int timeoutMilliseconds)
    {
        var timeout = new LibC.Timespec
        {
            Seconds = timeoutMilliseconds / 1000,
            Nanoseconds = (timeoutMilliseconds % 1000) * 1_000_000L,
        };

        // EAGAIN (the word changed), EINTR (a signal) and ETIMEDOUT all mean "look again"; nothing else can fail here.
        return LibC.Syscall(SyscallNumber, word, FutexWait, unchecked((uint)expected), &timeout, null, 0) == 0;
    }

    /// <summary>Wakes every thread, in any process, sleeping on <paramref name="word"/>.</summary>
    public static void WakeAll(int* word) => _ = LibC.Syscall(SyscallNumber, word, FutexWake, int.MaxValue, null, null, 0);

    /// <summary>Wakes one thread, in any process, sleeping on <paramref name="word"/> (a lock hand-off: one waiter can take it).</summary>
    public static void WakeOne(int* word) => _ = LibC.Syscall(SyscallNumber, word, FutexWake, 1, null, null, 0);
}
