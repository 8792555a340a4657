using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using Rpc.Diagnostics;

namespace Rpc;

/// <summary>
/// The <c>rpc.dispatch.*</c> instruments of one <c>Rpc</c> meter, shared by the dispatchers on it; each measurement
/// carries the dispatcher's <c>rpc.dispatcher</c> tag.
/// </summary>
internal sealed class DispatchMetrics
{
    // The dispatchers not yet disposed, for the queue-depth gauge.
    private readonly ConcurrentDictionary<RpcDispatcher, byte> _live = new();

    private DispatchMetrics(Meter meter)
    {
        QueueWait = meter.CreateHistogram<double>("rpc.dispatch.queue.wait", "ms", "How long a call waited in the queue for a worker.");
        Started = meter.CreateCounter<long>("rpc.dispatch.calls.started", "{call}", "Calls taken by a worker.");
        Backpressure = meter.CreateCounter<long>("rpc.dispatch.backpressure", "{event}", "Times a connection stopped reading because the queue was full.");
        Rejected = meter.CreateCounter<long>("rpc.dispatch.calls.rejected", "{call}", "Calls answered with an error before they ran.");
        meter.CreateObservableGauge("rpc.dispatch.queue.depth", ObserveDepths, "{call}", "Calls waiting for a worker.");
    }

    public Histogram<double> QueueWait { get; }

    public Counter<long> Started { get; }

    public Counter<long> Backpressure { get; }

    public Counter<long> Rejected { get; }

    /// <summary>Gets the instruments on <paramref name="factory"/>'s meter, or on the shared one.</summary>
    public static DispatchMetrics For(IMeterFactory? factory) => RpcTelemetry.For(factory, static meter => new DispatchMetrics(meter));

    public void Track(RpcDispatcher dispatcher) => _live[dispatcher] = 0;

    /// <returns>Whether it was tracked (the first call after <see cref="Track"/>).</returns>
    public bool Untrack(RpcDispatcher dispatcher) => _live.TryRemove(dispatcher, out _);

    private IEnumerable<Measurement<int>> ObserveDepths()
    {
        foreach (var dispatcher in _live.Keys)
        {
            yield return new Measurement<int>(dispatcher.QueueDepth, dispatcher.MetricTag);
        }
    }
}
