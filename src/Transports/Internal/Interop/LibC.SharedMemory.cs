using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Interop;

// The calls behind shm:// segments and their wake-ups.
internal static unsafe partial class LibC
{
    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial nint Syscall(nint number, void* address, int operation, uint value, Timespec* timeout, void* address2, uint value3);

    /// <summary><c>struct timespec</c> on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
