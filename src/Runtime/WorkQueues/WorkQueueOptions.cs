using System;

namespace Rpc;

/// <summary>Settings of a <see cref="WorkQueueHub{TContract}"/>.</summary>
public sealed class WorkQueueOptions
{
    /// <summary>
    /// Gets or sets the hub's name: the <c>rpc.work_queue.hub</c> tag of its metrics. Default: the contract's name.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// Gets or sets how many calls wait in the hub for a free worker, at most. A call arriving when the queue is full
    /// waits for room (back-pressure) instead of growing the queue. Default: 1024.
    /// </summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>
    /// Gets or sets how many calls one worker runs at once. Default: 1, the semantics of a process pool (each worker
    /// handles one item at a time, so "least busy" means "idle"); raise it for workers whose methods mostly wait.
    /// </summary>
    public int WorkerConcurrency { get; set; } = 1;

    /// <summary>
    /// Gets or sets how many times, in all, an <c>[RpcIdempotent]</c> call is run when the workers running it are lost.
    /// Calls without the mark run at most once whatever this says. Default: 3.
    /// </summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>
    /// Gets or sets the settings of the servers that accept workers and producers (connection options, shutdown). Its
    /// <see cref="RpcConnectionOptions.LoggerFactory"/> is also the hub's own (workers lost, calls re-run), and its
    /// <see cref="RpcConnectionOptions.MeterFactory"/> the meter of the hub's <c>rpc.work_queue.*</c> instruments.
    /// </summary>
    public RpcServerOptions Server { get; set; } = new();

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(QueueCapacity, 1, nameof(QueueCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(WorkerConcurrency, 1, nameof(WorkerConcurrency));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        ArgumentNullException.ThrowIfNull(Server, nameof(Server));
    }
}

/// <summary>Settings of a <see cref="WorkQueueProducer{TContract}"/>.</summary>
public sealed class WorkQueueProducerOptions
{
    /// <summary>
    /// Gets or sets how many calls the producer has outstanding at most; a further call waits, in the producer's process,
    /// until one completes. This is the producer's share of the bound on the hub's memory. Default: 256.
    /// </summary>
    public int MaxOutstandingCalls { get; set; } = 256;

    internal void Validate() => ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutstandingCalls, 1, nameof(MaxOutstandingCalls));
}
