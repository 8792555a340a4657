using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests.Dispatch;

[RpcContract]
public interface IDispatchProbe
{
    /// <summary>Records the call's sequence number, holds it for a while (or until the gate opens), returns it.</summary>
    Task<int> RunAsync(int sequence, int holdMilliseconds);
}

/// <summary>The server-side dispatcher: bounded concurrency, ordering, back-pressure, metrics.</summary>
public sealed class DispatcherTests : TestBase
{
    public static TheoryData<RpcProtocol> Protocols => [RpcProtocol.Binary, RpcProtocol.JsonRpc];

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Concurrency_never_exceeds_the_worker_count(RpcProtocol protocol)
    {
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 2 });
        var probe = new Probe();
        await using var pair = await ConnectAsync(dispatcher, probe, protocol);
        var proxy = pair.Client.CreateProxy<IDispatchProbe>();

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => proxy.RunAsync(i, 30))).WaitAsync(TimeoutToken);

        Assert.Equal(2, probe.MaxConcurrent);
        Assert.Equal(12, probe.Started.Count);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Per_connection_fifo_runs_each_connections_calls_one_at_a_time_in_order(RpcProtocol protocol)
    {
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 4, Ordering = RpcCallOrdering.PerConnectionFifo });
        var probe = new Probe();
        await using var pair = await ConnectAsync(dispatcher, probe, protocol);
        var proxy = pair.Client.CreateProxy<IDispatchProbe>();

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => proxy.RunAsync(i, i % 3))).WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 40), results);
        Assert.Equal(Enumerable.Range(0, 40), probe.Started);
        Assert.Equal(1, probe.MaxConcurrent);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Concurrent_ordering_overlaps_calls_of_one_connection(RpcProtocol protocol)
    {
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 4, Ordering = RpcCallOrdering.Concurrent });
        var probe = new Probe();
        await using var pair = await ConnectAsync(dispatcher, probe, protocol);
        var proxy = pair.Client.CreateProxy<IDispatchProbe>();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => proxy.RunAsync(i, 50))).WaitAsync(TimeoutToken);

        Assert.True(probe.MaxConcurrent > 1, $"max concurrent {probe.MaxConcurrent}");
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task A_full_queue_stops_reading_the_connection_and_memory_stays_bounded(RpcProtocol protocol)
    {
        using var metrics = new MetricsRecorder();
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 1, QueueCapacity = 4, Name = "bounded" });
        var probe = new Probe { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var pair = await ConnectAsync(dispatcher, probe, protocol);
        var proxy = pair.Client.CreateProxy<IDispatchProbe>();

        var calls = Enumerable.Range(0, 200).Select(i => proxy.RunAsync(i, 0)).ToArray();

        // Settled: the first call runs (it left the queue), the queue is full, and the connection has stopped reading (the
        // dispatcher counts that moment). Only a started call frees a slot, and the gate holds the first one: nothing moves.
        await WaitUntilAsync(() => !probe.Started.IsEmpty && dispatcher.QueueDepth == 4 && metrics.Total("rpc.dispatch.backpressure", "bounded") >= 1);

        // One call runs (held by the gate), at most four wait in the queue; the rest were never read off the transport.
        Assert.Single(probe.Started);
        Assert.InRange(dispatcher.QueueDepth, 0, 4);
        Assert.Equal(4, dispatcher.QueueDepth);
        Assert.True(metrics.Total("rpc.dispatch.backpressure", "bounded") >= 1);

        probe.Gate.SetResult();
        var results = await Task.WhenAll(calls).WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 200), results.Order());
        Assert.Equal(200, probe.Started.Count);
        Assert.Equal(0, dispatcher.QueueDepth);
        Assert.Equal(200, metrics.Total("rpc.dispatch.calls.started", "bounded"));
        Assert.True(metrics.Count("rpc.dispatch.queue.wait", "bounded") >= 200);
    }

    [Fact]
    public async Task Rejections_are_counted_by_reason()
    {
        using var metrics = new MetricsRecorder();
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { Name = "rejections" });
        await using var pair = await ConnectAsync(dispatcher, new Probe());

        await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Client.CreateProxy<IUnservedService>().MissingAsync()).WaitAsync(TimeoutToken);

        Assert.Equal(1, metrics.Total("rpc.dispatch.calls.rejected", "rejections"));
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task A_connection_lost_while_calls_are_queued_releases_everything(RpcProtocol protocol)
    {
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 1, QueueCapacity = 8 });
        var probe = new Probe { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var pair = await ConnectAsync(dispatcher, probe, protocol);
        var proxy = pair.Client.CreateProxy<IDispatchProbe>();
        var calls = Enumerable.Range(0, 20).Select(i => proxy.RunAsync(i, 0)).ToArray();
        await WaitUntilAsync(() => dispatcher.QueueDepth == 8);

        await pair.DisposeAsync();
        probe.Gate.SetResult();

        foreach (var call in calls)
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => call).WaitAsync(TimeoutToken);
        }

        await WaitUntilAsync(() => dispatcher.QueueDepth == 0);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task A_connection_lost_while_waiting_for_a_queue_slot_gives_every_slot_back(RpcProtocol protocol)
    {
        await using var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { MaxConcurrency = 1, QueueCapacity = 2 });
        var first = new Probe { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var lost = await ConnectAsync(dispatcher, first, protocol);
        var proxy = lost.Client.CreateProxy<IDispatchProbe>();
        var calls = Enumerable.Range(0, 10).Select(i => proxy.RunAsync(i, 0)).ToArray();
        await WaitUntilAsync(() => first.Started.Count == 1 && dispatcher.QueueDepth == 2);

        // The connection waits for a slot (reading paused) when it is lost; then the queue drains.
        await lost.DisposeAsync();
        first.Gate.SetResult();
        await WaitUntilAsync(() => dispatcher.QueueDepth == 0 && calls.All(call => call.IsCompleted));

        // Both slots are free again: a new connection fills the whole queue.
        var second = new Probe { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var pair = await ConnectAsync(dispatcher, second, protocol);
        var next = Enumerable.Range(0, 5).Select(i => pair.Client.CreateProxy<IDispatchProbe>().RunAsync(i, 0)).ToArray();
        await WaitUntilAsync(() => second.Started.Count == 1 && dispatcher.QueueDepth == 2);
        second.Gate.SetResult();
        Assert.Equal(Enumerable.Range(0, 5), (await Task.WhenAll(next).WaitAsync(TimeoutToken)).Order());
    }

    private static Task<Pair> ConnectAsync(RpcDispatcher dispatcher, Probe probe, RpcProtocol? protocol = null)
    {
        protocol ??= RpcProtocol.Binary;
        var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
        var server = RpcConnection.Create(serverPipe, new RpcConnectionOptions { Dispatcher = dispatcher, Protocol = protocol }).AddService<IDispatchProbe>(probe);
        server.Start();
        var client = RpcConnection.Create(clientPipe, new RpcConnectionOptions { Protocol = protocol });
        client.Start();
        return Task.FromResult(new Pair(server, client));
    }

    private sealed record Pair(RpcConnection Server, RpcConnection Client) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private sealed class Probe : IDispatchProbe
    {
        private int _running;
        private int _maxConcurrent;

        public ConcurrentQueue<int> Started { get; } = new();

        public TaskCompletionSource? Gate { get; init; }

        public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

        public async Task<int> RunAsync(int sequence, int holdMilliseconds)
        {
            Started.Enqueue(sequence);
            var running = Interlocked.Increment(ref _running);
            int seen;
            while ((seen = Volatile.Read(ref _maxConcurrent)) < running && Interlocked.CompareExchange(ref _maxConcurrent, running, seen) != seen)
            {
            }

            try
            {
                if (Gate is not null)
                {
                    await Gate.Task;
                }

                await Task.Delay(holdMilliseconds);
                return sequence;
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    /// <summary>Collects the dispatcher's measurements, per instrument and dispatcher name.</summary>
    private sealed class MetricsRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<(string Instrument, string Dispatcher), (double Total, long Count)> _values = new();

        public MetricsRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Rpc" && instrument.Name.StartsWith("rpc.dispatch.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.Start();
        }

        public double Total(string instrument, string dispatcher) => _values.TryGetValue((instrument, dispatcher), out var v) ? v.Total : 0;

        public long Count(string instrument, string dispatcher) => _values.TryGetValue((instrument, dispatcher), out var v) ? v.Count : 0;

        public void Dispose() => _listener.Dispose();

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dispatcher = string.Empty;
            foreach (var tag in tags)
            {
                if (tag.Key == "rpc.dispatcher")
                {
                    dispatcher = tag.Value as string ?? string.Empty;
                }
            }

            _values.AddOrUpdate((instrument.Name, dispatcher), (value, 1), (_, old) => (old.Total + value, old.Count + 1));
        }
    }
}
