using System;

namespace Rpc.SharedState;

/// <summary>
/// A range of a <see cref="SharedArray{T}"/>: what a call passes to give a peer part of an array (for example one
/// worker's share). Only the handle and the range travel; the peer reads and writes the range in place.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// The slice does not own more than its <see cref="Array"/> handle: disposing the slice disposes that handle. A slice
/// received in a call holds the receiver's own handle, which the receiver disposes (see the README, "Passing shared
/// memory in calls").
/// </remarks>
public readonly struct SharedArraySlice<T> : IDisposable
    where T : unmanaged
{
    /// <summary>Initializes a new instance of the <see cref="SharedArraySlice{T}"/> struct.</summary>
    /// <param name="array">The array.</param>
    /// <param name="start">The first element of the range.</param>
    /// <param name="length">The number of elements.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the array.</exception>
    public SharedArraySlice(SharedArray<T> array, int start, int length)
    {
        ArgumentNullException.ThrowIfNull(array);
        if ((uint)start > (uint)array.Length || (uint)length > (uint)(array.Length - start))
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"The range [{start}, {start}+{length}) is not inside the shared array '{array.Name}' of {array.Length} elements.");
        }

        Array = array;
        Start = start;
        Length = length;
    }

    /// <summary>Gets the array the range is part of (<see langword="null"/> for <c>default</c>).</summary>
    public SharedArray<T>? Array { get; }

    /// <summary>Gets the first element of the range.</summary>
    public int Start { get; }

    /// <summary>Gets the number of elements.</summary>
    public int Length { get; }

    /// <summary>Gets the range's elements, in place.</summary>
    /// <exception cref="InvalidOperationException">The slice is <c>default</c>.</exception>
    /// <exception cref="ObjectDisposedException">The array's handle was disposed.</exception>
    public Span<T> AsSpan() =>
        Array is { } array ? array.AsSpan(Start, Length) : throw new InvalidOperationException("A default SharedArraySlice has no array.");

    /// <summary>Disposes the array handle the slice holds.</summary>
    public void Dispose() => Array?.Dispose();
}
