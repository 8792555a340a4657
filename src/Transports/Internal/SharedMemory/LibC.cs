using System;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// The libc calls the shared-memory transport needs and .NET does not expose: <c>open(2)</c> with <c>O_NOFOLLOW</c>,
/// <c>fstat</c> (as <c>statx</c>) of a descriptor, <c>futex(2)</c>, and the process-existence probe <c>kill(pid, 0)</c>.
/// Linux only; the provider checks <see cref="OperatingSystem.IsLinux"/> before anything here runs.
/// </summary>
/// <remarks>
/// <c>open</c> and <c>syscall</c> are variadic in C. They are declared here with fixed integer and pointer parameters,
/// which is exact on the Linux 64-bit ABIs (x64, arm64, riscv64, loongarch64): variadic integer arguments travel in the
/// same registers as fixed ones there.
/// </remarks>
internal static unsafe partial class LibC
{
    internal const int ORdWr = 0x2;
    internal const int OCreat = 0x40;
    internal const int OExcl = 0x80;
    internal const int ONoFollow = 0x20000;
    internal const int OCloExec = 0x80000;

    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EEXIST = 17;
    internal const int ESRCH = 3;
    internal const int ETIMEDOUT = 110;
    internal const int ELOOP = 40;

    /// <summary><c>S_IRUSR | S_IWUSR</c>.</summary>
    internal const uint OwnerReadWrite = 0x180;

    internal const int AtFdCwd = -100;
    internal const int AtSymlinkNoFollow = 0x100;
    internal const int AtEmptyPath = 0x1000;

    /// <summary><c>STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE</c>.</summary>
    internal const uint StatxWanted = 0x001 | 0x002 | 0x008 | 0x200;

    private const ushort FileTypeMask = 0xF000; // S_IFMT
    private const ushort RegularFileType = 0x8000; // S_IFREG

    internal static bool IsRegularFile(in StatxBuffer status) => (status.Mode & FileTypeMask) == RegularFileType;

    /// <summary>The permission bits (<c>rwx</c> for user, group, other; setuid, setgid, sticky).</summary>
    internal static int PermissionBits(in StatxBuffer status) => status.Mode & 0xFFF;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Statx(int directoryFd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

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

    /// <summary>The fields of <c>struct statx</c> (256 bytes, the same layout on every architecture) that Rpc reads.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(40)]
        public ulong Size;
    }
}
