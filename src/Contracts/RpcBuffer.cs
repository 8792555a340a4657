using System;
using System.Buffers;
using System.Threading;

namespace Rpc;

/// <summary>
/// A byte payload whose storage is rented from <see cref="ArrayPool{T}.Shared"/>: the recommended type for large data.
/// </summary>
/// <remarks>
/// A fresh 1 MiB <c>byte[]</c> costs more than the round trip that carries it (large-object heap, gen-2 collections,
/// page faults), so <see cref="RpcBuffer"/> reuses arrays. Ownership follows <see cref="IMemoryOwner{T}"/> and moves
/// with the buffer:
/// <list type="bullet">
/// <item>Giving a buffer to the runtime gives it away: a client argument, a server result or a stream item is returned
/// to the pool by the runtime once its bytes are written (so a server may return the buffer it received: an echo costs
/// no extra copy). Do not use a buffer after passing it.</item>
/// <item>Receiving a buffer makes it yours: a server parameter or a client result should be disposed when you are done
/// with it (unless you pass it on).</item>
/// </list>
/// Forgetting to dispose leaks nothing: the array is simply collected instead of reused.
/// </remarks>
public sealed class RpcBuffer : IMemoryOwner<byte>
{
    private byte[]? _array;
    private readonly int _length;
    private readonly bool _pooled;

    private RpcBuffer(byte[] array, int length, bool pooled)
    {
        _array = array;
        _length = length;
        _pooled = pooled;
    }

    /// <summary>Rents a buffer of exactly <paramref name="length"/> usable bytes (their content is undefined).</summary>
    /// <param name="length">The payload length in bytes.</param>
    /// <returns>A buffer the caller owns until it is disposed or handed to the runtime.</returns>
    public static RpcBuffer Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new RpcBuffer(length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length), length, pooled: length != 0);
    }

    /// <summary>Rents a buffer and copies <paramref name="source"/> into it.</summary>
    /// <param name="source">The bytes to copy.</param>
    /// <returns>A buffer holding a copy of <paramref name="source"/>.</returns>
    public static RpcBuffer CopyFrom(ReadOnlySpan<byte> source)
    {
        var buffer = Rent(source.Length);
        source.CopyTo(buffer.Span);
        return buffer;
    }

    /// <summary>Wraps an existing array without copying; disposing it does not return the array to any pool.</summary>
    /// <param name="array">The payload.</param>
    /// <returns>A buffer over <paramref name="array"/>.</returns>
    public static RpcBuffer Wrap(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        return new RpcBuffer(array, array.Length, pooled: false);
    }

    /// <summary>Gets the payload length in bytes.</summary>
    public int Length => _length;

    /// <summary>Gets the payload.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public Memory<byte> Memory => new(ArrayOrThrow(), 0, _length);

    /// <summary>Gets the payload as a span.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public Span<byte> Span => new(ArrayOrThrow(), 0, _length);

    /// <summary>Returns the storage to the pool. Idempotent.</summary>
    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, null);
        if (array is not null && _pooled)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private byte[] ArrayOrThrow()
    {
        var array = _array;
        ObjectDisposedException.ThrowIf(array is null, this);
        return array;
    }
}
