using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Rpc.SharedState.Internal;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.SharedState;

/// <summary>
/// A fixed-length array of <typeparamref name="T"/> in shared memory, created by name by one process and opened by name
/// by others on the same machine: every process reads and writes the same elements in place, with no copy.
/// </summary>
/// <typeparam name="T">An unmanaged element type (no references): its bytes mean the same in every process.</typeparam>
/// <remarks>
/// <para>
/// The memory is a file <c>/dev/shm/rpcstate-&lt;name&gt;</c> created exclusively, owner-only (0600), never through a
/// symbolic link; opening checks its owner, mode, element type (name and size) and length, so only processes of the same
/// user share it, and a <c>SharedArray&lt;int&gt;</c> is never read as a <c>SharedArray&lt;long&gt;</c>.
/// </para>
/// <para>
/// Lifetime: each open handle is recorded in the file (pid and process start time). Disposing the last handle removes the
/// file; a file whose every holder died is removed by the next <see cref="Create(string, int)"/> or <c>Open</c> of its name, or by
/// <see cref="SharedArray.ReclaimStale"/>.
/// </para>
/// <para>
/// Access: <see cref="AsSpan()"/> and the indexer are bounds-checked. Plain reads and writes are not synchronized: take
/// <see cref="Lock()"/> around compound updates, or use the atomic operations of <see cref="SharedAtomics"/> on
/// <see langword="int"/> and <see langword="long"/> elements. Spans and references must not outlive <see cref="Dispose"/>,
/// which unmaps the memory. Disposing a handle whose lock scope is still open releases the lock.
/// </para>
/// <para>
/// In a contract method's parameters or result, the array (or a <see cref="SharedArraySlice{T}"/> of it) travels as a
/// handle: the receiver opens the same memory and owns that handle; the sender keeps its own open until then.
/// </para>
/// </remarks>
public sealed unsafe class SharedArray<T> : IDisposable
    where T : unmanaged
{
    internal static readonly string TypeName = typeof(T).ToString();

    // The type's name and size, hashed: what two processes must agree on to read the same bytes the same way.
    internal static readonly ulong TypeIdentity = BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(TypeName + ":" + Unsafe.SizeOf<T>())));

    /// <summary>
    /// Gets the identity of the element type recorded in every array of <typeparamref name="T"/>: a hash of the type's
    /// name and size. Two processes read an array the same way only when they agree on it; a handle sent in a call
    /// carries it, so the receiver refuses one of another element type before opening anything.
    /// </summary>
    public static ulong ElementTypeIdentity => TypeIdentity;

    private readonly SharedSegment _segment;

    private SharedArray(SharedSegment segment)
    {
        _segment = segment;
        Length = (int)segment.Length;
    }

    /// <summary>Gets whether <see cref="Dispose"/> has been called: the memory is unmapped and no longer accessible.</summary>
    public bool IsDisposed => _segment.IsDisposed;

    /// <summary>Gets the name the array was created with.</summary>
    public string Name => _segment.Name;

    /// <summary>Gets the number of elements.</summary>
    public int Length { get; }

    /// <summary>Gets the number of open handles to this array, in every process, as of the last open or close.</summary>
    public int HolderCount => _segment.HolderCount;

    /// <summary>Gets the element at <paramref name="index"/>, in place.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not less than <see cref="Length"/>.</exception>
    /// <exception cref="ObjectDisposedException">This handle was disposed.</exception>
    public ref T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Length);
            ObjectDisposedException.ThrowIf(_segment.IsDisposed, this);
            return ref ((T*)_segment.Data)[index];
        }
    }

    internal SharedSegment Segment => _segment;

    /// <summary>Creates a new shared array of <paramref name="length"/> zeroed elements named <paramref name="name"/>.</summary>
    /// <param name="name">1 to 64 characters from <c>A-Z a-z 0-9 . _ -</c>.</param>
    /// <param name="length">The number of elements.</param>
    /// <returns>The first handle; dispose it (and every other) to remove the array.</returns>
    /// <exception cref="System.IO.IOException">An array of that name exists and a live process holds it.</exception>
    /// <exception cref="PlatformNotSupportedException">Not 64-bit Linux.</exception>
    public static SharedArray<T> Create(string name, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        EnsureSupported();
        return new SharedArray<T>(SharedSegment.Create(name, Shape(length), ReadOnlySpan<byte>.Empty));
    }

    /// <summary>
    /// Creates a new shared array named <paramref name="name"/> holding a copy of <paramref name="contents"/>: no other
    /// process can open it before the copy is complete.
    /// </summary>
    /// <param name="name">1 to 64 characters from <c>A-Z a-z 0-9 . _ -</c>.</param>
    /// <param name="contents">The initial elements; their number is the array's length.</param>
    /// <returns>The first handle; dispose it (and every other) to remove the array.</returns>
    /// <exception cref="System.IO.IOException">An array of that name exists and a live process holds it.</exception>
    /// <exception cref="PlatformNotSupportedException">Not 64-bit Linux.</exception>
    public static SharedArray<T> Create(string name, ReadOnlySpan<T> contents)
    {
        ArgumentOutOfRangeException.ThrowIfZero(contents.Length, nameof(contents));
        EnsureSupported();
        return new SharedArray<T>(SharedSegment.Create(name, Shape(contents.Length), MemoryMarshal.AsBytes(contents)));
    }

    /// <summary>Opens the shared array <paramref name="name"/>, whatever its length.</summary>
    /// <exception cref="System.IO.FileNotFoundException">No array of that name exists.</exception>
    /// <exception cref="SharedStateMismatchException">It holds another element type.</exception>
    /// <exception cref="System.IO.IOException">The file is not ours (another user's, another mode) or not a shared array.</exception>
    public static SharedArray<T> Open(string name)
    {
        EnsureSupported();
        return new SharedArray<T>(SharedSegment.Open(name, Shape(0), expectedLength: null));
    }

    /// <summary>Opens the shared array <paramref name="name"/>, which must have <paramref name="length"/> elements.</summary>
    /// <exception cref="System.IO.FileNotFoundException">No array of that name exists.</exception>
    /// <exception cref="SharedStateMismatchException">It holds another element type or another length.</exception>
    /// <exception cref="System.IO.IOException">The file is not ours (another user's, another mode) or not a shared array.</exception>
    public static SharedArray<T> Open(string name, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        EnsureSupported();
        return new SharedArray<T>(SharedSegment.Open(name, Shape(length), expectedLength: length));
    }

    /// <summary>Gets every element, in place.</summary>
    /// <exception cref="ObjectDisposedException">This handle was disposed.</exception>
    public Span<T> AsSpan()
    {
        ObjectDisposedException.ThrowIf(_segment.IsDisposed, this);
        return new Span<T>(_segment.Data, Length);
    }

    /// <summary>Gets <paramref name="length"/> elements from <paramref name="start"/>, in place.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the array.</exception>
    /// <exception cref="ObjectDisposedException">This handle was disposed.</exception>
    public Span<T> AsSpan(int start, int length) => AsSpan().Slice(start, length);

    /// <summary>Gets the range of <paramref name="length"/> elements from <paramref name="start"/>, to pass in a call.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the array.</exception>
    public SharedArraySlice<T> Slice(int start, int length) => new(this, start, length);

    /// <summary>Takes the array's lock, waiting as long as it takes (a holder that dies releases it; see <see cref="Lock(TimeSpan, CancellationToken)"/>).</summary>
    public SharedLockScope Lock()
    {
        _ = _segment.TryAcquireUserLock(-1, CancellationToken.None, out var scope);
        return scope;
    }

    /// <summary>
    /// Takes the array's lock, shared by every process that opened the array. When the holder's process has died, the
    /// lock is taken over within about 100 ms and the scope's <see cref="SharedLockScope.PreviousOwnerDied"/> is set.
    /// </summary>
    /// <param name="timeout">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Ends the wait (noticed within 100 ms).</param>
    /// <returns>The scope to dispose to release the lock.</returns>
    /// <exception cref="TimeoutException">A live process held the lock for all of <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <remarks>Not reentrant: taking it again in the same process, before releasing it, waits for itself.</remarks>
    public SharedLockScope Lock(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        return TryLock(timeout, out var scope, cancellationToken)
            ? scope
            : throw new TimeoutException($"The lock of the shared array '{Name}' was held by process {_segment.UserLockOwner} for longer than {timeout}.");
    }

    /// <summary>Takes the array's lock if it is free now.</summary>
    /// <param name="scope">The scope to dispose, when the result is <see langword="true"/>.</param>
    public bool TryLock(out SharedLockScope scope) => TryLock(TimeSpan.Zero, out scope);

    /// <summary>Takes the array's lock, waiting at most <paramref name="timeout"/>.</summary>
    /// <param name="timeout">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="scope">The scope to dispose, when the result is <see langword="true"/>.</param>
    /// <param name="cancellationToken">Ends the wait (noticed within 100 ms).</param>
    /// <returns>Whether the lock was taken.</returns>
    public bool TryLock(TimeSpan timeout, out SharedLockScope scope, CancellationToken cancellationToken = default)
    {
        return _segment.TryAcquireUserLock(Timeouts.ToMilliseconds(timeout), cancellationToken, out scope);
    }

    /// <summary>Closes this handle and unmaps the memory; the last handle, in any process, removes the array.</summary>
    public void Dispose() => _segment.Dispose();

    private static SegmentShape Shape(long length) => new(TypeName, Unsafe.SizeOf<T>(), TypeIdentity, length);

    private static void EnsureSupported()
    {
        if (!OperatingSystem.IsLinux() || !Futex.IsSupported)
        {
            throw new PlatformNotSupportedException("Shared arrays need 64-bit Linux (files under /dev/shm and futex(2)).");
        }
    }
}

/// <summary>Operations on every shared array at once.</summary>
public static class SharedArray
{
    /// <summary>
    /// Removes this user's shared arrays and values whose every holder process has died (a crash leaves them behind;
    /// a normal close never does). Arrays with a live holder, and other users' files, are left alone.
    /// </summary>
    public static void ReclaimStale()
    {
        if (OperatingSystem.IsLinux())
        {
            SharedSegment.ReclaimStale();
        }
    }
}
