using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Rpc;

/// <summary>
/// A bounded queue of incoming calls served by a pool of workers, shared by every connection whose
/// <see cref="RpcConnectionOptions.Dispatcher"/> is this instance (typically all the connections of a server).
/// </summary>
/// <remarks>
/// <para>Without a dispatcher (the default), calls run inline on each connection's receive thread: the fastest path,
/// fine for methods that await rather than block. A dispatcher bounds how many calls run at once across connections,
/// and when its queue is full the connections stop reading, so back-pressure reaches callers through the transport.</para>
/// <para>Metrics (meter <c>Rpc</c>, <see cref="RpcDispatcherOptions.MeterFactory"/>'s or the shared one; tag <c>rpc.dispatcher</c>): <c>rpc.dispatch.queue.depth</c> (calls waiting),
/// <c>rpc.dispatch.queue.wait</c> (ms a call waited for a worker), <c>rpc.dispatch.calls.started</c>,
/// <c>rpc.dispatch.backpressure</c> (times a connection stopped reading because the queue was full), and
/// <c>rpc.dispatch.calls.rejected</c> (calls answered with an error before running, tagged by <c>reason</c>).</para>
/// <para>Both protocols. With JSON-RPC, calls StreamJsonRpc answers itself (an unknown method, arguments it cannot
/// bind) are not counted as rejected, and its <c>$/</c> methods (cancellation, stream paging) run inline, never queued
/// behind the calls they concern.</para>
/// </remarks>
public sealed class RpcDispatcher : IAsyncDisposable
{
    private readonly RpcDispatcherOptions _options;
    private readonly DispatchMetrics _metrics;
    private readonly Channel<object> _ready;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private int _depth;

    /// <summary>Starts a dispatcher and its workers.</summary>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    public RpcDispatcher(RpcDispatcherOptions? options = null)
    {
        _options = options ?? new RpcDispatcherOptions();
        _options.Validate();
        MetricTag = new("rpc.dispatcher", _options.Name);
        _metrics = DispatchMetrics.For(_options.MeterFactory);
        _slots = new SemaphoreSlim(_options.QueueCapacity, _options.QueueCapacity);

        // Unbounded in type only: every item holds one of the QueueCapacity slots (a FIFO lane holds its calls' slots).
        _ready = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
        _workers = new Task[_options.MaxConcurrency];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = Task.Run(WorkAsync);
        }

        _metrics.Track(this);
    }

    /// <summary>Gets the settings.</summary>
    public RpcDispatcherOptions Options => _options;

    /// <summary>Gets how many calls wait for a worker.</summary>
    public int QueueDepth => Volatile.Read(ref _depth);

    /// <summary>Gets the <c>rpc.dispatcher</c> tag of this dispatcher's measurements.</summary>
    internal KeyValuePair<string, object?> MetricTag { get; }

    /// <summary>Stops the workers after the calls they are running; queued calls of open connections are dropped.</summary>
    /// <returns>A task that completes when every worker has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_metrics.Untrack(this))
        {
            return;
        }

        _ready.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Takes a queue slot if one is free; the caller then must <see cref="Enqueue"/> exactly one call.</summary>
    internal bool TryReserve() => _slots.Wait(0);

    /// <summary>Waits for a queue slot, which the caller then owns.</summary>
    internal Task ReserveAsync(CancellationToken cancellationToken)
    {
        _metrics.Backpressure.Add(1, MetricTag);
        return _slots.WaitAsync(cancellationToken);
    }

    /// <summary>Gives back a slot reserved but not used.</summary>
    internal void Unreserve() => _slots.Release();

    internal void RecordRejected(string reason) => _metrics.Rejected.Add(1, MetricTag, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Queues a call whose slot the caller reserved.</summary>
    internal void Enqueue(DispatchItem call, DispatchLane? lane)
    {
        Interlocked.Increment(ref _depth);
        if (lane is null)
        {
            _ready.Writer.TryWrite(call);
        }
        else if (lane.Add(call))
        {
            _ready.Writer.TryWrite(lane);
        }
    }

    private async Task WorkAsync()
    {
        var reader = _ready.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    var lane = item as DispatchLane;
                    var call = lane is null ? (DispatchItem)item : lane.Take();
                    Interlocked.Decrement(ref _depth);
                    _slots.Release();
                    if (_metrics.QueueWait.Enabled)
                    {
                        _metrics.QueueWait.Record(Stopwatch.GetElapsedTime(call.EnqueuedAt).TotalMilliseconds, MetricTag);
                    }

                    _metrics.Started.Add(1, MetricTag);
                    await call.RunAsync().ConfigureAwait(false);

                    // A FIFO lane goes to the back of the line after each call, so one busy connection cannot hog a worker.
                    if (lane is not null && lane.HasMoreAfterRun())
                    {
                        _ready.Writer.TryWrite(lane);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }
}
