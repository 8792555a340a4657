using System;
using Rpc.SharedState.Internal;

namespace Rpc.SharedState;

/// <summary>
/// Holds the lock of a shared array or value until disposed: <c>using (var scope = array.Lock()) { … }</c>.
/// </summary>
/// <remarks>
/// The lock belongs to the process, not the thread, so the scope may be disposed after an <c>await</c> on another thread.
/// Dispose it exactly once; a second dispose throws <see cref="System.Threading.SynchronizationLockException"/>.
/// </remarks>
public readonly struct SharedLockScope : IDisposable
{
    private readonly SharedSegment? _segment;
    private readonly int _generation;

    internal SharedLockScope(SharedSegment segment, int generation, bool previousOwnerDied)
    {
        _segment = segment;
        _generation = generation;
        PreviousOwnerDied = previousOwnerDied;
    }

    /// <summary>
    /// Gets whether the previous holder's process died while holding the lock (the lock was taken over from it). The data
    /// the lock protects may then be half-updated: check and repair it before relying on it.
    /// </summary>
    public bool PreviousOwnerDied { get; }

    /// <summary>Releases the lock (a default scope, from a failed <c>TryLock</c>, releases nothing).</summary>
    public void Dispose()
    {
        _segment?.ReleaseUserLock(_generation);
    }
}
