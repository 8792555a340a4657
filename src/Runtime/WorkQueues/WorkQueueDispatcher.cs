using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Runtime;

namespace Rpc.WorkQueues;

/// <summary>One attached worker: the invoker that reaches it and how many calls it runs now.</summary>
internal sealed class WorkQueueWorker
{
    public WorkQueueWorker(RpcConnection connection, int capacity)
    {
        Connection = connection;
        Invoker = connection.Protocol;
        Capacity = capacity;
    }

    public RpcConnection Connection { get; }

    /// <summary>Gets the worker connection's protocol: the same invoker a proxy of that connection would call.</summary>
    public IRpcInvoker Invoker { get; }

    public int Capacity { get; }

    /// <summary>Gets or sets the calls running on this worker. Guarded by the dispatcher's lock.</summary>
    public int InFlight { get; set; }

    /// <summary>Gets or sets whether the worker is still attached. Guarded by the dispatcher's lock.</summary>
    public bool Attached { get; set; } = true;
}

/// <summary>
/// Hands each call to exactly one worker: the least busy attached worker with a free slot (ties in round-robin order),
/// else the bounded queue, else an admission wait (back-pressure). One lock guards everything; every task is completed
/// outside it, so no caller's code runs under the lock.
/// </summary>
internal sealed class WorkQueueDispatcher
{
    private readonly LinkedList<Waiter> _queue = new();
    private readonly LinkedList<Waiter> _admissions = new();
    private readonly List<WorkQueueWorker> _workers = [];
    private readonly int _capacity;
    private readonly WorkQueueMetrics _metrics;
    private int _cursor;
    private int _inFlight;
    private bool _stopped;

    public WorkQueueDispatcher(int capacity, WorkQueueMetrics metrics)
    {
        _capacity = capacity;
        _metrics = metrics;
    }

    public int QueueLength
    {
        get
        {
            lock (Gate)
            {
                return _queue.Count;
            }
        }
    }

    public int WaitingForRoom
    {
        get
        {
            lock (Gate)
            {
                return _admissions.Count;
            }
        }
    }

    public int InFlight
    {
        get
        {
            lock (Gate)
            {
                return _inFlight;
            }
        }
    }

    public int WorkerCount
    {
        get
        {
            lock (Gate)
            {
                return _workers.Count;
            }
        }
    }

    private object Gate => _workers;

    public void Attach(WorkQueueWorker worker)
    {
        List<(Waiter, WorkQueueWorker?)>? handoffs = null;
        lock (Gate)
        {
            if (_stopped)
            {
                return;
            }

            _workers.Add(worker);
            _metrics.OnWorkersChanged(1);
            PumpLocked(ref handoffs);
        }

        Complete(handoffs);
    }

    public void Detach(WorkQueueWorker worker)
    {
        lock (Gate)
        {
            if (!worker.Attached)
            {
                return;
            }

            worker.Attached = false;
            _workers.Remove(worker);
            _metrics.OnWorkersChanged(-1);
        }
    }

    /// <summary>
    /// Gets a worker slot for one call. <paramref name="retry"/> puts the call at the head of the queue, past the
    /// admission wait: it already held a slot, and a re-run must not wait behind work that arrived after it.
    /// When the queue is full, reading from <paramref name="producer"/> (if any) pauses until the call has room.
    /// </summary>
    public ValueTask<WorkQueueWorker> AcquireAsync(bool retry, RpcConnection? producer, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (Gate)
        {
            ThrowIfStopped();
            cancellationToken.ThrowIfCancellationRequested();
            if (_queue.Count == 0 && TryPickLocked(out var worker))
            {
                return new ValueTask<WorkQueueWorker>(worker);
            }

            waiter = new Waiter(this);
            if (retry)
            {
                waiter.Node = _queue.AddFirst(waiter);
                _metrics.OnQueueLengthChanged(1);
            }
            else if (_admissions.Count == 0 && _queue.Count < _capacity)
            {
                waiter.Node = _queue.AddLast(waiter);
                _metrics.OnQueueLengthChanged(1);
            }
            else
            {
                waiter.Node = _admissions.AddLast(waiter);
                waiter.Room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        if (waiter.Room is { } room && producer is not null)
        {
            // The queue is full: stop reading the producer whose call this is until the call has room (or ends
            // otherwise), so its further calls wait in the transport's buffers and its sends, not in the hub's memory.
            producer.PauseReading(Task.WhenAny(room.Task, waiter.Task));
        }

        return WaitAsync(waiter, cancellationToken);
    }

    /// <summary>Gives back a slot taken by <see cref="AcquireAsync"/>, and hands it to the next queued call.</summary>
    public void Release(WorkQueueWorker worker)
    {
        List<(Waiter, WorkQueueWorker?)>? handoffs = null;
        lock (Gate)
        {
            worker.InFlight--;
            _inFlight--;
            _metrics.OnInFlightChanged(-1);
            PumpLocked(ref handoffs);
        }

        Complete(handoffs);
    }

    /// <summary>Fails every waiting call and refuses new ones.</summary>
    public void Stop()
    {
        List<Waiter> waiting;
        lock (Gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            _metrics.OnQueueLengthChanged(-_queue.Count);
            waiting = [.. _queue, .. _admissions];
            _queue.Clear();
            _admissions.Clear();
        }

        foreach (var waiter in waiting)
        {
            waiter.TrySetException(StoppedException());
        }
    }

    private static RpcException StoppedException() => new("The work-queue hub is stopping: the call was never given to a worker.");

    /// <summary>Tells each waiter it got a worker, or (no worker) that it moved from the admission wait into the queue.</summary>
    private static void Complete(List<(Waiter Waiter, WorkQueueWorker? Worker)>? handoffs)
    {
        if (handoffs is null)
        {
            return;
        }

        foreach (var (waiter, worker) in handoffs)
        {
            if (worker is null)
            {
                waiter.Room!.TrySetResult();
                continue;
            }

            // Cannot fail: only the thread that unlinked the waiter under the lock completes it.
            waiter.TrySetResult(worker);
        }
    }

    private static async ValueTask<WorkQueueWorker> WaitAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Dispatcher.Cancel((Waiter)state!, token), waiter))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        List<(Waiter, WorkQueueWorker?)>? handoffs = null;
        lock (Gate)
        {
            var list = waiter.Node?.List;
            if (list is null)
            {
                // Already handed a worker (the call goes ahead and sees its token) or failed by Stop.
                return;
            }

            list.Remove(waiter.Node!);
            if (list == _queue)
            {
                _metrics.OnQueueLengthChanged(-1);
                PumpLocked(ref handoffs);
            }
        }

        waiter.TrySetCanceled(cancellationToken);
        Complete(handoffs);
    }

    private void PumpLocked(ref List<(Waiter, WorkQueueWorker?)>? handoffs)
    {
        while (true)
        {
            if (_queue.First is { } first && TryPickLocked(out var worker))
            {
                _queue.RemoveFirst();
                _metrics.OnQueueLengthChanged(-1);
                (handoffs ??= []).Add((first.Value, worker));
                continue;
            }

            if (_admissions.First is { } admitted && _queue.Count < _capacity)
            {
                _admissions.RemoveFirst();
                admitted.Value.Node = _queue.AddLast(admitted.Value);
                _metrics.OnQueueLengthChanged(1);
                (handoffs ??= []).Add((admitted.Value, null));
                continue;
            }

            return;
        }
    }

    /// <summary>Picks the attached worker with the fewest calls in flight and a free slot; ties go round-robin.</summary>
    private bool TryPickLocked(out WorkQueueWorker worker)
    {
        worker = null!;
        var count = _workers.Count;
        var best = -1;
        for (var i = 0; i < count; i++)
        {
            var index = (_cursor + i) % count;
            var candidate = _workers[index];
            if (candidate.InFlight < candidate.Capacity && candidate.Connection.IsConnected && (best < 0 || candidate.InFlight < _workers[best].InFlight))
            {
                best = index;
            }
        }

        if (best < 0)
        {
            return false;
        }

        worker = _workers[best];
        worker.InFlight++;
        _inFlight++;
        _metrics.OnInFlightChanged(1);
        _cursor = (best + 1) % count;
        return true;
    }

    private void ThrowIfStopped()
    {
        if (_stopped)
        {
            throw StoppedException();
        }
    }

    /// <summary>A call waiting for a worker; its node says which list holds it (none once it is handed out or cancelled).</summary>
    private sealed class Waiter : TaskCompletionSource<WorkQueueWorker>
    {
        // Continuations run inline: a freed slot is handed over on the thread that freed it (typically the worker
        // connection's receive thread, which just read the previous job's reply), so the next job is sent without a
        // thread-pool hop. Safe because waiters are only completed outside the lock.
        public Waiter(WorkQueueDispatcher dispatcher)
            : base(TaskCreationOptions.None) => Dispatcher = dispatcher;

        public WorkQueueDispatcher Dispatcher { get; }

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Gets or sets what completes when a call that waited for room enters the queue.</summary>
        public TaskCompletionSource? Room { get; set; }
    }
}
