using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Rpc.Transports.Internal.Interop;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.SharedState.Internal;

/// <summary>
/// The file behind one named shared array: <c>/dev/shm/rpcstate-&lt;name&gt;</c>, a 4 KiB header then the elements.
/// </summary>
/// <remarks>
/// <para>
/// Header: magic, layout version, element size, length, type identity, creator pid and start time; the holder count and
/// a "removed" flag; the WaitForChange sleeper count; two <see cref="RobustLock"/>s (the holder table's, the user's); the
/// holder table (<see cref="MaxHolders"/> slots of pid and start time, one per open handle); the element type's name.
/// </para>
/// <para>
/// Creation never exposes a half-written header: the file is created and initialized under a private name
/// (<c>rpcstate-&lt;name&gt;@&lt;pid&gt;-&lt;random&gt;</c>) and published with <c>link(2)</c>, which fails instead of
/// replacing an existing name. Every change to the holder table happens under its lock, and the count is recomputed from
/// the table each time, so a holder that died mid-update leaves nothing to repair: the next one sweeps its slot.
/// </para>
/// </remarks>
internal sealed unsafe class SharedSegment : IDisposable
{
    internal const int HeaderSize = 4096;
    internal const int MaxHolders = 128;
    internal const string FilePrefix = "rpcstate-";

    private const ulong Magic = 0x3130415453435052; // "RPCSTA01"
    private const int LayoutVersion = 1;
    private const int MagicOffset = 0;
    private const int VersionOffset = 8;
    private const int ElementSizeOffset = 12;
    private const int LengthOffset = 16;
    private const int TypeIdentityOffset = 24;
    private const int CreatorPidOffset = 32;
    private const int CreatorStartOffset = 40;
    private const int HolderCountOffset = 64;
    private const int RemovedOffset = 68;
    private const int SleepersOffset = 72;
    private const int TableLockOffset = 128;
    private const int UserLockOffset = 192;
    private const int HoldersOffset = 256;
    private const int HolderSlotSize = 16;
    private const int TypeNameLengthOffset = HoldersOffset + (MaxHolders * HolderSlotSize);
    private const int TypeNameOffset = TypeNameLengthOffset + 4;
    private const int MaxTypeNameBytes = 1024;

    // Holder-table changes take microseconds; only a stopped (SIGSTOP, debugger) holder could keep it this long.
    private const int TableLockTimeoutMilliseconds = 30_000;

    // A sleeper re-checks at least this often: it bounds how late a cancellation, a plain (non-atomic) write, or a change
    // to only the high half of a 64-bit element is noticed.
    private const int WaitSliceMilliseconds = 100;

    private readonly MappedFile _mapping;
    private readonly byte* _base;
    private readonly ulong _inode;
    private int _slot;
    private int _disposed;

    // The generation of the user-lock scope taken through this handle and not yet released (0: none).
    private int _heldGeneration;

    private SharedSegment(MappedFile mapping, string name, ulong inode)
    {
        _mapping = mapping;
        _base = mapping.Base;
        _inode = inode;
        Name = name;
        Path = PathOf(name);
    }

    public string Name { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public string Path { get; }

    public long Length => *(long*)(_base + LengthOffset);

    public byte* Data => _base + HeaderSize;

    /// <summary>Gets the number of threads, in every process, sleeping in WaitForChange: writers wake only when it is not 0.</summary>
    public int* Sleepers => (int*)(_base + SleepersOffset);

    /// <summary>Gets the number of open handles, in every process, as of the last open or close.</summary>
    public int HolderCount => Volatile.Read(ref *(int*)(_base + HolderCountOffset));

    public static string Directory => SharedMemoryName.Directory;

    public static string PathOf(string name) => System.IO.Path.Combine(Directory, FilePrefix + name);

    /// <summary>Checks a shared-state name: 1–64 characters from <c>[A-Za-z0-9._-]</c>, the same rule as <c>shm://</c> names.</summary>
    public static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!SharedMemoryName.IsValid(name))
        {
            throw new ArgumentException($"'{name}' is not a valid shared-state name: expected 1 to {SharedMemoryName.MaxNameLength} characters from A-Z, a-z, 0-9, '.', '_' and '-'.", nameof(name));
        }
    }

    /// <summary>
    /// Creates the segment <paramref name="name"/>, its data starting with <paramref name="contents"/> (zeros after) before
    /// any other process can open it; an existing one is replaced only when every holder of it has died.
    /// </summary>
    public static SharedSegment Create(string name, SegmentShape shape, ReadOnlySpan<byte> contents)
    {
        ValidateName(name);
        var path = PathOf(name);
        var size = checked(HeaderSize + (shape.Length * shape.ElementSize));
        for (var attempt = 0; ; attempt++)
        {
            var privatePath = path + "@" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var fd = SharedMemoryFile.CreateExclusive(privatePath, size, out var inode);
            if (fd < 0)
            {
                continue;
            }

            SharedSegment segment;
            try
            {
                segment = new SharedSegment(MappedFile.Map(fd, size), name, inode);
            }
            catch
            {
                _ = LibC.Unlink(privatePath);
                throw;
            }

            contents.CopyTo(new Span<byte>(segment.Data, checked((int)Math.Min(size - HeaderSize, int.MaxValue))));
            segment.InitializeHeader(shape);
            var linked = LibC.Link(privatePath, path) == 0;
            var linkErrno = linked ? 0 : Marshal.GetLastPInvokeError();
            _ = LibC.Unlink(privatePath);
            if (linked)
            {
                return segment;
            }

            segment._mapping.Dispose();
            if (linkErrno != LibC.EEXIST)
            {
                throw new IOException($"Cannot create the shared array '{name}' at '{path}': {Marshal.GetPInvokeErrorMessage(linkErrno)}.");
            }

            if (attempt >= 3 || !TryReclaim(path))
            {
                throw new IOException($"A shared array named '{name}' already exists ('{path}': held by a live process, or not a shared array of this user); open it, or choose another name.");
            }
        }
    }

    /// <summary>Opens the segment <paramref name="name"/> and records this handle as a holder.</summary>
    /// <exception cref="FileNotFoundException">No segment of that name exists (or its last holder just closed it).</exception>
    /// <exception cref="SharedStateMismatchException">It holds another element type, size or length.</exception>
    public static SharedSegment Open(string name, SegmentShape shape, long? expectedLength)
    {
        ValidateName(name);
        var path = PathOf(name);
        int fd;
        long size;
        ulong inode;
        try
        {
            fd = SharedMemoryFile.OpenChecked(path, expectedSize: 0, out size, out inode);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"No shared array named '{name}' exists ('{path}').", path);
        }

        if (size < HeaderSize)
        {
            _ = LibC.Close(fd);
            throw new IOException($"'{path}' is not an Rpc shared array: it is {size} bytes, smaller than the header.");
        }

        var segment = new SharedSegment(MappedFile.Map(fd, size), name, inode);
        try
        {
            segment.CheckHeader(shape, expectedLength, size);
            segment.Register();
            return segment;
        }
        catch
        {
            segment._mapping.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Removes every segment of ours whose holders have all died, and the private files of creators that died before
    /// publishing theirs. Segments of other users, or with a live holder, are left alone.
    /// </summary>
    public static void ReclaimStale()
    {
        string[] candidates;
        try
        {
            candidates = System.IO.Directory.GetFiles(Directory, FilePrefix + "*");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var path in candidates)
        {
            var fileName = System.IO.Path.GetFileName(path);
            var at = fileName.IndexOf('@', StringComparison.Ordinal);
            if (at < 0)
            {
                _ = TryReclaim(path);
            }
            else
            {
                // A creator's private file: named after its pid, like shm:// connection segments.
                SharedMemorySegment.ReclaimStale(Directory, fileName[..(at + 1)]);
            }
        }
    }

    /// <summary>Takes the user lock (see <see cref="RobustLock"/>); false on timeout.</summary>
    public bool TryAcquireUserLock(int timeoutMilliseconds, CancellationToken cancellationToken, out SharedLockScope scope)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (UserLock.TryAcquire(timeoutMilliseconds, cancellationToken, out var previousOwnerDied, out var generation))
        {
            _heldGeneration = generation;
            scope = new SharedLockScope(this, generation, previousOwnerDied);
            return true;
        }

        scope = default;
        return false;
    }

    /// <summary>Gets the pid holding the user lock, 0 when free (for messages).</summary>
    public int UserLockOwner => UserLock.OwnerPid;

    public void ReleaseUserLock(int generation)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // Cleared while still holding the lock: after the release another thread may take it and record its own.
        if (_heldGeneration == generation)
        {
            _heldGeneration = 0;
        }

        UserLock.Release(generation);
    }

    /// <summary>Wakes the WaitForChange sleepers on the 32-bit word at <paramref name="word"/>, if any sleep at all.</summary>
    public void WakeSleepers(int* word)
    {
        // The caller changed the element with a full fence (Interlocked) before this read; a sleeper counts itself with a
        // full fence before its futex wait compares the element. So either we see it here, or its wait sees the change.
        if (Volatile.Read(ref *Sleepers) != 0)
        {
            Futex.WakeAll(word);
        }
    }

    /// <summary>
    /// Sleeps until <paramref name="changed"/> says the element differs, at most <paramref name="timeoutMilliseconds"/>
    /// (-1: no limit), in futex waits on the 32-bit word <paramref name="word"/> while it holds <paramref name="expectedWord"/>.
    /// </summary>
    public bool WaitForChange(int* word, int expectedWord, Func<bool> changed, int timeoutMilliseconds, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var start = Environment.TickCount64;
        Interlocked.Increment(ref *Sleepers);
        try
        {
            while (!changed())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var slice = WaitSliceMilliseconds;
                if (timeoutMilliseconds >= 0)
                {
                    var remaining = timeoutMilliseconds - (Environment.TickCount64 - start);
                    if (remaining <= 0)
                    {
                        return false;
                    }

                    slice = (int)Math.Min(remaining, slice);
                }

                _ = Futex.Wait(word, expectedWord, slice);
            }

            return true;
        }
        finally
        {
            Interlocked.Decrement(ref *Sleepers);
        }
    }

    /// <summary>
    /// Closes this handle, releasing the user lock if a scope of this handle still holds it: the last holder removes the
    /// file. The mapping is gone afterwards; so are spans over it.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A scope still open on this handle would otherwise keep every other process waiting until this one exits.
        var held = Interlocked.Exchange(ref _heldGeneration, 0);
        if (held != 0 && UserLock.OwnerPid == Environment.ProcessId)
        {
            try
            {
                UserLock.Release(held);
            }
            catch (SynchronizationLockException)
            {
                // Released meanwhile by its scope.
            }
        }

        var table = TableLock;
        if (table.TryAcquire(TableLockTimeoutMilliseconds, CancellationToken.None, out _, out var generation))
        {
            ClearSlot(_slot);
            if (RecountHolders() == 0)
            {
                Remove();
            }

            table.Release(generation);
        }

        // Without the table lock our slot stays: the next open or reclaim sweeps it once this process has exited.
        _mapping.Dispose();
    }

    private RobustLock TableLock => new(_base + TableLockOffset);

    private RobustLock UserLock => new(_base + UserLockOffset);

    private int* SlotPid(int slot) => (int*)(_base + HoldersOffset + (slot * HolderSlotSize));

    private ulong* SlotStart(int slot) => (ulong*)(_base + HoldersOffset + (slot * HolderSlotSize) + 8);

    /// <summary>
    /// Removes the segment at <paramref name="path"/> when every holder has died; returns whether nothing is left there.
    /// A file that is not ours or not a shared array is never touched.
    /// </summary>
    private static bool TryReclaim(string path)
    {
        int fd;
        long size;
        ulong inode;
        try
        {
            fd = SharedMemoryFile.OpenChecked(path, expectedSize: 0, out size, out inode);
        }
        catch (FileNotFoundException)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }

        if (size < HeaderSize)
        {
            _ = LibC.Close(fd);
            return false;
        }

        var name = System.IO.Path.GetFileName(path)[FilePrefix.Length..];
        var segment = new SharedSegment(MappedFile.Map(fd, size), name, inode);
        try
        {
            if (Volatile.Read(ref *(ulong*)segment._base) != Magic || *(int*)(segment._base + VersionOffset) != LayoutVersion)
            {
                return false;
            }

            var table = segment.TableLock;
            if (!table.TryAcquire(TableLockTimeoutMilliseconds, CancellationToken.None, out _, out var generation))
            {
                return false;
            }

            try
            {
                if (segment.RecountHolders() != 0)
                {
                    return false;
                }

                segment.Remove();
                return true;
            }
            finally
            {
                table.Release(generation);
            }
        }
        finally
        {
            segment._mapping.Dispose();
        }
    }

    /// <summary>Takes a free holder slot (sweeping the slots of dead processes first), under the table lock.</summary>
    private void Register()
    {
        var table = TableLock;
        if (!table.TryAcquire(TableLockTimeoutMilliseconds, CancellationToken.None, out _, out var generation))
        {
            throw new TimeoutException($"The shared array '{Name}' stayed locked for {TableLockTimeoutMilliseconds} ms while opening it: a holder process is stopped.");
        }

        try
        {
            if (Volatile.Read(ref *(int*)(_base + RemovedOffset)) != 0 || RecountHolders() == 0)
            {
                // Its last holder closed (or died) between our open(2) and now: the name is gone or about to be.
                if (Volatile.Read(ref *(int*)(_base + RemovedOffset)) == 0)
                {
                    Remove();
                }

                throw new FileNotFoundException($"No shared array named '{Name}' exists ('{Path}'): its last holder closed it.", Path);
            }

            for (var slot = 0; slot < MaxHolders; slot++)
            {
                if (*SlotPid(slot) == 0)
                {
                    FillSlot(slot);
                    _slot = slot;
                    _ = RecountHolders();
                    return;
                }
            }

            throw new IOException($"The shared array '{Name}' is already open {MaxHolders} times, the most it records.");
        }
        finally
        {
            table.Release(generation);
        }
    }

    /// <summary>Clears the slots of dead holders and stores and returns the number left. Under the table lock.</summary>
    private int RecountHolders()
    {
        var count = 0;
        for (var slot = 0; slot < MaxHolders; slot++)
        {
            var pid = *SlotPid(slot);
            if (pid == 0)
            {
                continue;
            }

            if (ProcessIdentity.IsAlive(pid, *SlotStart(slot)))
            {
                count++;
            }
            else
            {
                ClearSlot(slot);
            }
        }

        Volatile.Write(ref *(int*)(_base + HolderCountOffset), count);
        return count;
    }

    private void FillSlot(int slot)
    {
        *SlotStart(slot) = ProcessIdentity.CurrentStartTime;
        *SlotPid(slot) = Environment.ProcessId;
    }

    private void ClearSlot(int slot)
    {
        *SlotStart(slot) = 0;
        *SlotPid(slot) = 0;
    }

    /// <summary>Marks the segment removed and unlinks its name, if the name still is this file. Under the table lock.</summary>
    private void Remove()
    {
        Volatile.Write(ref *(int*)(_base + RemovedOffset), 1);
        if (SharedMemoryFile.InodeAt(Path) == _inode)
        {
            _ = LibC.Unlink(Path);
        }
    }

    private void InitializeHeader(SegmentShape shape)
    {
        *(int*)(_base + VersionOffset) = LayoutVersion;
        *(int*)(_base + ElementSizeOffset) = shape.ElementSize;
        *(long*)(_base + LengthOffset) = shape.Length;
        *(ulong*)(_base + TypeIdentityOffset) = shape.TypeIdentity;
        *(int*)(_base + CreatorPidOffset) = Environment.ProcessId;
        *(ulong*)(_base + CreatorStartOffset) = ProcessIdentity.CurrentStartTime;
        var typeName = Encoding.UTF8.GetBytes(shape.TypeName);
        var typeNameLength = Math.Min(typeName.Length, MaxTypeNameBytes);
        typeName.AsSpan(0, typeNameLength).CopyTo(new Span<byte>(_base + TypeNameOffset, MaxTypeNameBytes));
        *(int*)(_base + TypeNameLengthOffset) = typeNameLength;
        FillSlot(0);
        _slot = 0;
        *(int*)(_base + HolderCountOffset) = 1;

        // Last, with release semantics: a reader that sees the magic sees the fields before it.
        Volatile.Write(ref *(ulong*)(_base + MagicOffset), Magic);
    }

    private void CheckHeader(SegmentShape shape, long? expectedLength, long fileSize)
    {
        if (Volatile.Read(ref *(ulong*)(_base + MagicOffset)) != Magic || *(int*)(_base + VersionOffset) != LayoutVersion)
        {
            throw new IOException($"'{Path}' is not an Rpc shared array of layout version {LayoutVersion}.");
        }

        var elementSize = *(int*)(_base + ElementSizeOffset);
        var length = Length;
        var typeNameLength = Math.Clamp(*(int*)(_base + TypeNameLengthOffset), 0, MaxTypeNameBytes);
        var storedTypeName = Encoding.UTF8.GetString(_base + TypeNameOffset, typeNameLength);
        if (*(ulong*)(_base + TypeIdentityOffset) != shape.TypeIdentity || elementSize != shape.ElementSize)
        {
            throw new SharedStateMismatchException(
                Name,
                $"{shape.TypeName} ({shape.ElementSize} bytes)",
                $"{storedTypeName} ({elementSize} bytes)",
                $"The shared array '{Name}' holds {storedTypeName} ({elementSize} bytes each); it was opened as {shape.TypeName} ({shape.ElementSize} bytes each).");
        }

        if (length < 0 || length > int.MaxValue || fileSize != HeaderSize + (length * elementSize))
        {
            throw new IOException($"'{Path}' is damaged: its header says {length} elements of {elementSize} bytes, but the file is {fileSize} bytes.");
        }

        if (expectedLength is { } expected && expected != length)
        {
            throw new SharedStateMismatchException(
                Name,
                $"{expected} elements",
                $"{length} elements",
                $"The shared array '{Name}' has {length} elements of {storedTypeName}; it was opened expecting {expected}.");
        }
    }
}

/// <summary>What a shared array holds: element type (name, size, identity) and number of elements.</summary>
internal readonly record struct SegmentShape(string TypeName, int ElementSize, ulong TypeIdentity, long Length);
