using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Rpc.Diagnostics;

namespace Rpc.WorkQueues;

/// <summary>
/// One hub's measurements on the <c>rpc.work_queue.*</c> instruments of its <c>Rpc</c> meter, each carrying the hub's
/// name in the <c>rpc.work_queue.hub</c> tag. Counters and up-down counters only (no observable callbacks), so a hub
/// needs no registration that could outlive it, and nothing here reflects.
/// </summary>
internal sealed class WorkQueueMetrics
{
    private readonly Instruments _instruments;
    private readonly KeyValuePair<string, object?> _hub;

    /// <param name="hubName">The hub's name.</param>
    /// <param name="factory">The factory of the meter, or <see langword="null"/> for the shared one.</param>
    public WorkQueueMetrics(string hubName, IMeterFactory? factory)
    {
        _hub = new KeyValuePair<string, object?>("rpc.work_queue.hub", hubName);
        _instruments = RpcTelemetry.For(factory, static meter => new Instruments(meter));
    }

    public void OnQueued() => _instruments.Queued.Add(1, _hub);

    public void OnQueueLengthChanged(int delta) => _instruments.QueueLength.Add(delta, _hub);

    public void OnInFlightChanged(int delta) => _instruments.InFlight.Add(delta, _hub);

    public void OnWorkersChanged(int delta) => _instruments.Workers.Add(delta, _hub);

    public void OnCompleted() => _instruments.Completed.Add(1, _hub);

    public void OnRetried() => _instruments.Retried.Add(1, _hub);

    public void OnWorkerLost() => _instruments.WorkerLost.Add(1, _hub);

    public void OnStarted(long acceptedTimestamp)
    {
        if (_instruments.QueueWait.Enabled)
        {
            _instruments.QueueWait.Record(Stopwatch.GetElapsedTime(acceptedTimestamp).TotalMilliseconds, _hub);
        }
    }

    /// <summary>The instruments of one meter, shared by the hubs on it.</summary>
    private sealed class Instruments(Meter meter)
    {
        public Counter<long> Queued { get; } = meter.CreateCounter<long>("rpc.work_queue.queued", "{call}", "Calls accepted by the hub (retries not counted).");

        public UpDownCounter<long> QueueLength { get; } = meter.CreateUpDownCounter<long>("rpc.work_queue.queue_length", "{call}", "Calls waiting in the hub for a free worker.");

        public UpDownCounter<long> InFlight { get; } = meter.CreateUpDownCounter<long>("rpc.work_queue.in_flight", "{call}", "Calls running on a worker.");

        public UpDownCounter<long> Workers { get; } = meter.CreateUpDownCounter<long>("rpc.work_queue.workers", "{worker}", "Workers attached to the hub.");

        public Counter<long> Completed { get; } = meter.CreateCounter<long>("rpc.work_queue.completed", "{call}", "Calls a worker answered (a result or the worker's error).");

        public Counter<long> Retried { get; } = meter.CreateCounter<long>("rpc.work_queue.retried", "{call}", "Idempotent calls re-queued after their worker was lost.");

        public Counter<long> WorkerLost { get; } = meter.CreateCounter<long>("rpc.work_queue.worker_lost", "{call}", "Calls failed with WorkerLostException.");

        public Histogram<double> QueueWait { get; } = meter.CreateHistogram<double>("rpc.work_queue.queue_wait", "ms", "Time from a call's arrival at the hub to its start on a worker (first attempt).");
    }
}
