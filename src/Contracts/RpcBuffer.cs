using System;
using System.Buffers;
using System.Threading;

namespace Rpc;

/// <summary>
/// A byte payload whose storage is rented from <see cref="ArrayPool{T}.Shared"/>: the recommended type for large data.
/// </summary>
/// <remarks>
/// A fresh 1 MiB <c>byte[]</c> costs more than the round trip that carries it (large-object heap, gen-2 collections,
/// page faults), so <see cref="RpcBuffer"/> reuses arrays. Ownership follows <see cref="IMemoryOwner{T}"/>:
/// <list type="bullet">
/// <item>An <see cref="RpcBuffer"/> received as a server parameter belongs to the runtime and is valid until the method's
/// task completes; the runtime returns it to the pool afterwards.</item>
/// <item>An <see cref="RpcBuffer"/> returned from a server method or passed as a client argument is returned to the pool
/// by the runtime once it has been written to the wire (for a returned parameter that is the same buffer, which is
/// allowed: an echo costs no extra copy).</item>
/// <item>An <see cref="RpcBuffer"/> received as a client result belongs to the caller, who should dispose it.</item>
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
