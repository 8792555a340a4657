using System;
using System.Diagnostics.Metrics;

namespace Rpc;

/// <summary>In what order a dispatcher runs the calls of one connection.</summary>
public enum RpcCallOrdering
{
    /// <summary>Calls run as soon as a worker is free, several of one connection at a time; replies may overtake each other.</summary>
    Concurrent,

    /// <summary>
    /// The calls of one connection run one at a time, in arrival order: a call starts when the previous one of the same
    /// connection has finished. Different connections still run in parallel.
    /// </summary>
    PerConnectionFifo,
}

/// <summary>Settings of an <see cref="RpcDispatcher"/>.</summary>
public sealed class RpcDispatcherOptions
{
    /// <summary>
    /// Gets or sets how many received calls may wait for a worker. When the queue is full, connections stop reading
    /// (their transports stop receiving), so back-pressure reaches the callers instead of memory growing. Default: 1,024.
    /// </summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>
    /// Gets or sets how many calls run at once, counting an asynchronous call until its reply is sent.
    /// Default: 4 × the processor count.
    /// </summary>
    public int MaxConcurrency { get; set; } = 4 * Environment.ProcessorCount;

    /// <summary>Gets or sets the ordering of each connection's calls. Default: <see cref="RpcCallOrdering.Concurrent"/>.</summary>
    public RpcCallOrdering Ordering { get; set; } = RpcCallOrdering.Concurrent;

    /// <summary>Gets or sets the name reported as the <c>rpc.dispatcher</c> tag of the metrics. Default: <c>default</c>.</summary>
    public string Name { get; set; } = "default";

    /// <summary>
    /// Gets or sets the factory of the <c>Rpc</c> meter that gets the dispatcher's <c>rpc.dispatch.*</c> instruments
    /// (e.g. the host's). Default: <see langword="null"/>, the shared static meter <c>Rpc</c>.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(QueueCapacity, 1, nameof(QueueCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrency, 1, nameof(MaxConcurrency));
        ArgumentException.ThrowIfNullOrEmpty(Name, nameof(Name));
    }
}
