using System;
using System.Globalization;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// The one way Rpc creates, opens and maps files under <c>/dev/shm</c>: <c>shm://</c> connection segments and shared state
/// (<see cref="Rpc.SharedState.SharedArray{T}"/>) both go through here.
/// </summary>
/// <remarks>
/// Files are opened with <c>open(2)</c> directly: creation is <c>O_CREAT|O_EXCL|O_NOFOLLOW</c> with mode 0600 (an existing
/// file or symbolic link at the path fails the call instead of being reused or followed, whatever
/// <c>fs.protected_regular</c> says), and opening an existing file is <c>O_NOFOLLOW</c> followed by an <c>fstat</c> of
/// the descriptor, so the checks apply to the very file mapped, not to whatever the path names a moment later.
/// </remarks>
internal static unsafe class SharedMemoryFile
{
    /// <summary>
    /// Creates <paramref name="path"/> exclusively, owner-only, with <paramref name="size"/> bytes reserved, and returns its
    /// descriptor and inode; or -1 when something (file or link) already exists at the path.
    /// </summary>
    public static int CreateExclusive(string path, long size, out ulong inode)
    {
        inode = 0;
        var fd = LibC.Open(path, LibC.ORdWr | LibC.OCreat | LibC.OExcl | LibC.ONoFollow | LibC.OCloExec, LibC.OwnerReadWrite);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == LibC.EEXIST
                ? -1
                : throw new IOException($"Cannot create the shared-memory segment '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.");
        }

        var succeeded = false;
        try
        {
            // open() applies the umask to 0600, which can only remove bits; check anyway, plus type and owner.
            inode = CheckDescriptor(fd, path, expectedSize: 0).Inode;
            // fallocate, not just ftruncate: tmpfs allocates pages on first touch, and a full /dev/shm would then kill the
            // process with SIGBUS in the middle of a copy. Reserving them now turns that into ENOSPC here.
            if (LibC.FAllocate(fd, 0, 0, size) != 0)
            {
                throw new IOException($"Cannot allocate the shared-memory segment '{path}' ({size} bytes): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
            }

            succeeded = true;
            return fd;
        }
        finally
        {
            if (!succeeded)
            {
                _ = LibC.Close(fd);
                _ = LibC.Unlink(path);
            }
        }
    }

    /// <summary>
    /// Opens an existing segment without following links and checks it is a regular 0600 file of ours (of
    /// <paramref name="expectedSize"/> bytes unless 0); returns the descriptor, the file's size and its inode.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file exists but may not be mapped (see the message).</exception>
    public static int OpenChecked(string path, long expectedSize, out long size, out ulong inode)
    {
        var fd = LibC.Open(path, LibC.ORdWr | LibC.ONoFollow | LibC.OCloExec, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.ENOENT)
            {
                throw new FileNotFoundException($"Cannot open the shared-memory segment '{path}': it does not exist.", path);
            }

            var reason = errno == LibC.ELOOP ? "it is a symbolic link" : Marshal.GetPInvokeErrorMessage(errno);
            throw new IOException($"Cannot open the shared-memory segment '{path}': {reason}.");
        }

        try
        {
            var status = CheckDescriptor(fd, path, expectedSize);
            size = (long)status.Size;
            inode = status.Inode;
            var owned = fd;
            fd = -1;
            return owned;
        }
        finally
        {
            if (fd >= 0)
            {
                _ = LibC.Close(fd);
            }
        }
    }

    /// <summary>Returns the inode of the file at <paramref name="path"/> (not following links), or 0 when there is none.</summary>
    public static ulong InodeAt(string path) =>
        LibC.Statx(LibC.AtFdCwd, path, LibC.AtSymlinkNoFollow, LibC.StatxWanted, out var status) == 0 ? status.Inode : 0;

    /// <summary>Checks type, owner and mode of <paramref name="fd"/> (and its size unless <paramref name="expectedSize"/> is 0).</summary>
    private static LibC.StatxBuffer CheckDescriptor(int fd, string path, long expectedSize)
    {
        if (LibC.Statx(fd, string.Empty, LibC.AtEmptyPath, LibC.StatxWanted, out var status) != 0)
        {
            throw new IOException($"Cannot inspect the shared-memory segment '{path}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
        }

        var owner = LibC.GetEffectiveUserId();
        if (!LibC.IsRegularFile(status))
        {
            throw new IOException($"'{path}' is not a regular file; Rpc will not map it.");
        }

        if (status.Uid != owner)
        {
            throw new IOException($"The shared-memory segment '{path}' belongs to uid {status.Uid}, not to this process (uid {owner}); Rpc will not map it.");
        }

        if ((LibC.PermissionBits(status) & ~(int)LibC.OwnerReadWrite) != 0)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"The shared-memory segment '{path}' has mode {Convert.ToString(LibC.PermissionBits(status), 8)}; Rpc requires 600."));
        }

        if (expectedSize != 0 && (long)status.Size != expectedSize)
        {
            throw new IOException($"The shared-memory segment '{path}' is {status.Size} bytes, expected {expectedSize}.");
        }

        return status;
    }
}

/// <summary>A read-write shared mapping of a whole file, with a pointer that stays valid until <see cref="Dispose"/>.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;

    private MappedFile(MemoryMappedFile file, MemoryMappedViewAccessor view, long size)
    {
        _file = file;
        _view = view;
        Size = size;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        Base = pointer + view.PointerOffset;
    }

    public byte* Base { get; }

    public long Size { get; }

    /// <summary>Maps <paramref name="fd"/>, taking ownership of it: on failure it is closed here, exactly once.</summary>
    public static MappedFile Map(int fd, long size)
    {
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        MemoryMappedFile file;
        try
        {
            // leaveOpen: false, so the mapping object owns the descriptor from here on.
            file = MemoryMappedFile.CreateFromFile(handle, mapName: null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        try
        {
            var view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
            return new MappedFile(file, view, size);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps. Only call once, when no thread touches the memory.</summary>
    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
