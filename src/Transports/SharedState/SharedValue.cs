using System;
using System.Threading;

namespace Rpc.SharedState;

/// <summary>
/// One <typeparamref name="T"/> in shared memory, created by name by one process and opened by name by others: a
/// <see cref="SharedArray{T}"/> of one element, with the same security, lifetime and lock (see there).
/// </summary>
/// <typeparam name="T">An unmanaged type (no references).</typeparam>
/// <remarks>
/// For atomic operations on an <see langword="int"/> or <see langword="long"/> value use <see cref="Array"/> with index 0,
/// for example <c>counter.Array.AtomicAdd(0, 1)</c>.
/// </remarks>
public sealed class SharedValue<T> : IDisposable
    where T : unmanaged
{
    private SharedValue(SharedArray<T> array) => Array = array;

    /// <summary>Gets the one-element array behind the value (for the atomic operations of <see cref="SharedAtomics"/>).</summary>
    public SharedArray<T> Array { get; }

    /// <summary>Gets the name the value was created with.</summary>
    public string Name => Array.Name;

    /// <summary>Gets the value, in place: read it, assign it, or pass it by reference.</summary>
    /// <exception cref="ObjectDisposedException">This handle was disposed.</exception>
    public ref T Value => ref Array[0];

    /// <summary>Creates a new shared value named <paramref name="name"/> holding <paramref name="initialValue"/> (before any other process can open it).</summary>
    /// <exception cref="System.IO.IOException">A value or array of that name exists and a live process holds it.</exception>
    public static SharedValue<T> Create(string name, T initialValue = default) =>
        new(SharedArray<T>.Create(name, new ReadOnlySpan<T>(in initialValue)));

    /// <summary>Opens the shared value <paramref name="name"/>.</summary>
    /// <exception cref="System.IO.FileNotFoundException">No value of that name exists.</exception>
    /// <exception cref="SharedStateMismatchException">It holds another type, or is an array of more than one element.</exception>
    public static SharedValue<T> Open(string name) => new(SharedArray<T>.Open(name, 1));

    /// <summary>Takes the value's lock; see <see cref="SharedArray{T}.Lock(TimeSpan, CancellationToken)"/>.</summary>
    public SharedLockScope Lock() => Array.Lock();

    /// <summary>Takes the value's lock, waiting at most <paramref name="timeout"/>; see <see cref="SharedArray{T}.Lock(TimeSpan, CancellationToken)"/>.</summary>
    /// <exception cref="TimeoutException">A live process held the lock for all of <paramref name="timeout"/>.</exception>
    public SharedLockScope Lock(TimeSpan timeout, CancellationToken cancellationToken = default) => Array.Lock(timeout, cancellationToken);

    /// <summary>Takes the value's lock if it is free now.</summary>
    public bool TryLock(out SharedLockScope scope) => Array.TryLock(out scope);

    /// <summary>Closes this handle; the last handle, in any process, removes the value.</summary>
    public void Dispose() => Array.Dispose();
}
