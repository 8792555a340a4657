using System;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Interop;

/// <summary>
/// Every libc call the transports make, for what .NET has no API for: file identity and ownership (<c>statx</c>), files
/// opened with <c>O_NOFOLLOW</c>, pipe descriptors woken through <c>poll</c>, <c>futex(2)</c>, and a few process calls.
/// <c>LibraryImport</c> only (source-generated marshalling, NativeAOT-safe). Linux only; callers check
/// <see cref="OperatingSystem.IsLinux"/> first. One partial file per area.
/// </summary>
/// <remarks>
/// <c>open</c>, <c>fcntl</c>, <c>prctl</c> and <c>syscall</c> are variadic in C. They are declared with fixed integer and
/// pointer parameters, which is exact on the Linux 64-bit ABIs (x64, arm64, riscv64, loongarch64): variadic integer
/// arguments travel in the same registers as fixed ones there.
/// </remarks>
internal static unsafe partial class LibC
{
    internal const int ENOENT = 2;
    internal const int ESRCH = 3;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EEXIST = 17;
    internal const int EPIPE = 32;
    internal const int ELOOP = 40;
    internal const int ETIMEDOUT = 110;

    internal const int ORdWr = 0x2;
    internal const int OCreat = 0x40;
    internal const int OExcl = 0x80;
    internal const int ONoFollow = 0x20000;
    internal const int OCloExec = 0x80000;

    /// <summary><c>S_IRUSR | S_IWUSR</c>.</summary>
    internal const uint OwnerReadWrite = 0x180;

    /// <summary><c>AT_FDCWD</c>: resolve a relative path against the working directory.</summary>
    internal const int AtFdCwd = -100;

    /// <summary><c>AT_SYMLINK_NOFOLLOW</c>: describe a symbolic link itself, never what it points to.</summary>
    internal const int AtSymlinkNoFollow = 0x100;

    /// <summary><c>AT_EMPTY_PATH</c>: describe the descriptor itself.</summary>
    internal const int AtEmptyPath = 0x1000;

    /// <summary><c>STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO | STATX_SIZE</c>: every field <see cref="StatxBuffer"/> holds.</summary>
    internal const uint StatxWanted = 0x001 | 0x002 | 0x008 | 0x100 | 0x200;

    private const ushort FileTypeMask = 0xF000; // S_IFMT
    private const ushort RegularFileType = 0x8000; // S_IFREG
    private const ushort SocketFileType = 0xC000; // S_IFSOCK

    internal static bool IsRegularFile(in StatxBuffer status) => (status.Mode & FileTypeMask) == RegularFileType;

    internal static bool IsSocket(in StatxBuffer status) => (status.Mode & FileTypeMask) == SocketFileType;

    /// <summary>The permission bits (<c>rwx</c> for user, group, other; setuid, setgid, sticky).</summary>
    internal static int PermissionBits(in StatxBuffer status) => status.Mode & 0xFFF;

    // statx(2) rather than stat(2): struct statx has the same layout on every Linux architecture, where struct stat
    // differs between x64 and arm64.
    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Statx(int directoryFd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Unlink(string path);

    /// <summary>An <see cref="System.IO.IOException"/> naming <paramref name="call"/> and the last error it set.</summary>
    internal static System.IO.IOException Error(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new System.IO.IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    /// <summary>The fields of <c>struct statx</c> (256 bytes, the same layout on every architecture) that Rpc reads.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(40)]
        public ulong Size;

        [FieldOffset(136)]
        public uint DeviceMajor;

        [FieldOffset(140)]
        public uint DeviceMinor;
    }
}
