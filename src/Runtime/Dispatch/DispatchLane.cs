using System.Collections.Generic;

namespace Rpc;

/// <summary>
/// The calls of one connection under <see cref="RpcCallOrdering.PerConnectionFifo"/>: at most one of them is with a
/// worker at a time, and they are taken in arrival order.
/// </summary>
internal sealed class DispatchLane
{
    private readonly Queue<DispatchItem> _calls = new();
    private bool _scheduled;

    private object Gate => _calls;

    /// <summary>Adds a call; returns <see langword="true"/> when the lane must be handed to the workers.</summary>
    public bool Add(DispatchItem call)
    {
        lock (Gate)
        {
            _calls.Enqueue(call);
            if (_scheduled)
            {
                return false;
            }

            _scheduled = true;
            return true;
        }
    }

    public DispatchItem Take()
    {
        lock (Gate)
        {
            return _calls.Dequeue();
        }
    }

    /// <summary>After a call has finished: whether the lane stays scheduled for its next call.</summary>
    public bool HasMoreAfterRun()
    {
        lock (Gate)
        {
            _scheduled = _calls.Count > 0;
            return _scheduled;
        }
    }
}
