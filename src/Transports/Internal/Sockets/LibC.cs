using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>
/// The few libc calls .NET has no API for: the owner and the identity (device + inode) of a socket file.
/// Linux only; callers check <see cref="System.OperatingSystem.IsLinux"/> first.
/// </summary>
internal static partial class LibC
{
    /// <summary><c>AT_FDCWD</c>: resolve a relative path against the working directory.</summary>
    internal const int AtFdCwd = -100;

    /// <summary><c>AT_SYMLINK_NOFOLLOW</c>: describe a symbolic link itself, never what it points to.</summary>
    internal const int AtSymlinkNoFollow = 0x100;

    /// <summary><c>STATX_TYPE | STATX_MODE | STATX_UID | STATX_INO</c>.</summary>
    internal const uint StatxWanted = 0x001 | 0x002 | 0x008 | 0x100;

    internal const int ENOENT = 2;

    private const ushort FileTypeMask = 0xF000; // S_IFMT
    private const ushort SocketFileType = 0xC000; // S_IFSOCK

    internal static bool IsSocket(in StatxBuffer status) => (status.Mode & FileTypeMask) == SocketFileType;

    // statx(2) rather than stat(2): struct statx has the same layout on every Linux architecture, where struct stat
    // differs between x64 and arm64.
    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Statx(int directoryFd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

    /// <summary>The fields of <c>struct statx</c> (256 bytes, fixed layout) that Rpc reads.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(136)]
        public uint DeviceMajor;

        [FieldOffset(140)]
        public uint DeviceMinor;
    }
}
