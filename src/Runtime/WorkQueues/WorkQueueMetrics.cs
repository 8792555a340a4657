using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Rpc.Diagnostics;

namespace Rpc.WorkQueues;

/// <summary>
/// The <c>rpc.work_queue.*</c> instruments of the <c>Rpc</c> meter, shared by every hub; each measurement carries the
/// hub's name in the <c>rpc.work_queue.hub</c> tag. Counters and up-down counters only (no observable callbacks), so a hub needs no
/// registration that could outlive it, and nothing here reflects.
/// </summary>
internal sealed class WorkQueueMetrics
{
    private static readonly Meter Meter = RpcTelemetry.SharedMeter;
    private static readonly Counter<long> Queued = Meter.CreateCounter<long>("rpc.work_queue.queued", "{call}", "Calls accepted by the hub (retries not counted).");
    private static readonly UpDownCounter<long> QueueLength = Meter.CreateUpDownCounter<long>("rpc.work_queue.queue_length", "{call}", "Calls waiting in the hub for a free worker.");
    private static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>("rpc.work_queue.in_flight", "{call}", "Calls running on a worker.");
    private static readonly UpDownCounter<long> Workers = Meter.CreateUpDownCounter<long>("rpc.work_queue.workers", "{worker}", "Workers attached to the hub.");
    private static readonly Counter<long> Completed = Meter.CreateCounter<long>("rpc.work_queue.completed", "{call}", "Calls a worker answered (a result or the worker's error).");
    private static readonly Counter<long> Retried = Meter.CreateCounter<long>("rpc.work_queue.retried", "{call}", "Idempotent calls re-queued after their worker was lost.");
    private static readonly Counter<long> WorkerLost = Meter.CreateCounter<long>("rpc.work_queue.worker_lost", "{call}", "Calls failed with WorkerLostException.");
    private static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>("rpc.work_queue.queue_wait", "ms", "Time from a call's arrival at the hub to its start on a worker (first attempt).");

    private readonly KeyValuePair<string, object?> _hub;

    public WorkQueueMetrics(string hubName) => _hub = new KeyValuePair<string, object?>("rpc.work_queue.hub", hubName);

    public void OnQueued() => Queued.Add(1, _hub);

    public void OnQueueLengthChanged(int delta) => QueueLength.Add(delta, _hub);

    public void OnInFlightChanged(int delta) => InFlight.Add(delta, _hub);

    public void OnWorkersChanged(int delta) => Workers.Add(delta, _hub);

    public void OnCompleted() => Completed.Add(1, _hub);

    public void OnRetried() => Retried.Add(1, _hub);

    public void OnWorkerLost() => WorkerLost.Add(1, _hub);

    public void OnStarted(long acceptedTimestamp)
    {
        if (QueueWait.Enabled)
        {
            QueueWait.Record(Stopwatch.GetElapsedTime(acceptedTimestamp).TotalMilliseconds, _hub);
        }
    }
}
