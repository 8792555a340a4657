using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests.WorkQueues;

/// <summary>
/// An in-process worker whose jobs each wait for their own gate: tests decide exactly when each job finishes. Attached
/// to a hub over an in-memory pipe, so it behaves as a remote worker (its own connection) without a process.
/// </summary>
public sealed class GatedJobs : IJobs, IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _gates = new();
    private int _running;

    private GatedJobs(int workerId) => WorkerId = workerId;

    public int WorkerId { get; }

    /// <summary>Gets the ids in the order their jobs started.</summary>
    public ConcurrentQueue<int> Started { get; } = new();

    public int Running => Volatile.Read(ref _running);

    /// <summary>Gets or sets whether jobs finish at once instead of waiting for their gate.</summary>
    public bool Open { get; set; }

    public RpcConnection HubSide { get; private set; } = null!;

    public RpcConnection WorkerSide { get; private set; } = null!;

    public static GatedJobs Attach<TContract>(WorkQueueHub<TContract> hub, int workerId, int? concurrency = null, bool open = false)
        where TContract : class
    {
        var jobs = new GatedJobs(workerId) { Open = open };
        var (hubPipe, workerPipe) = FullDuplexStream.CreatePipePair();
        jobs.WorkerSide = RpcConnection.Create(workerPipe).AddService<IJobs>(jobs);
        jobs.WorkerSide.Start();
        jobs.HubSide = RpcConnection.Create(hubPipe);
        hub.AddWorker(jobs.HubSide, concurrency);
        jobs.HubSide.Start();
        return jobs;
    }

    /// <summary>Lets job <paramref name="id"/> finish (with <paramref name="error"/> if given).</summary>
    public void Release(int id, Exception? error = null)
    {
        var gate = Gate(id);
        if (error is null)
        {
            gate.TrySetResult();
        }
        else
        {
            gate.TrySetException(error);
        }
    }

    public Task<JobResult> RunIdempotentAsync(int id, int delayMs, CancellationToken cancellationToken) => RunCoreAsync(id, cancellationToken);

    public Task<JobResult> RunAsync(int id, int delayMs, CancellationToken cancellationToken) => RunCoreAsync(id, cancellationToken);

    public async IAsyncEnumerable<int> CountAsync(int id, int count, int delayMs, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Started.Enqueue(id);
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return i;
        }
    }

    public void Touch(int id) => Started.Enqueue(id);

    public async ValueTask DisposeAsync()
    {
        await WorkerSide.DisposeAsync();
        await HubSide.DisposeAsync();
    }

    private TaskCompletionSource Gate(int id) => _gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task<JobResult> RunCoreAsync(int id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _running);
        Started.Enqueue(id);
        try
        {
            if (!Open)
            {
                await Gate(id).Task.WaitAsync(cancellationToken);
            }

            return new JobResult(WorkerId, id);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}

/// <summary>Sums the <c>Rpc.WorkQueues</c> measurements of one hub, and the largest queue length seen.</summary>
public sealed class WorkQueueMeter : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private readonly string _hub;
    private readonly Dictionary<string, long> _sums = [];
    private readonly Lock _gate = new();
    private long _queueLength;

    public WorkQueueMeter(string hub)
    {
        _hub = hub;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Rpc" && instrument.Name.StartsWith("rpc.work_queue.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument.Name + ".count", 1, tags));
        _listener.Start();
    }

    public long MaxQueueLength { get; private set; }

    public long this[string instrument]
    {
        get
        {
            lock (_gate)
            {
                return _sums.GetValueOrDefault(instrument);
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "rpc.work_queue.hub" && (string?)tag.Value == _hub)
            {
                lock (_gate)
                {
                    _sums[instrument] = _sums.GetValueOrDefault(instrument) + value;
                    if (instrument == "rpc.work_queue.queue_length")
                    {
                        _queueLength += value;
                        MaxQueueLength = Math.Max(MaxQueueLength, _queueLength);
                    }
                }

                return;
            }
        }
    }
}
