using System;
using System.Threading;
using System.Threading.Tasks;
using Rpc.WorkQueues;

namespace Rpc;

/// <summary>Entry points of the work queue for producers and workers (the hub is <see cref="WorkQueueHub{TContract}"/>).</summary>
public static class RpcWorkQueue
{
    /// <summary>
    /// Makes a producer over a connection to a hub's producer endpoint: its <see cref="WorkQueueProducer{TContract}.Proxy"/>
    /// counts the calls it starts, so <see cref="WorkQueueProducer{TContract}.JoinAsync"/> can wait for them.
    /// </summary>
    /// <typeparam name="TContract">The hub's contract.</typeparam>
    /// <param name="connection">A connection to the hub's producer endpoint.</param>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The producer.</returns>
    public static WorkQueueProducer<TContract> CreateProducer<TContract>(RpcConnection connection, WorkQueueProducerOptions? options = null)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new WorkQueueProducerOptions();
        options.Validate();
        return new WorkQueueProducer<TContract>(connection.Protocol, options.MaxOutstandingCalls);
    }

    /// <summary>
    /// Makes a producer that queues on a hub in this process (over <see cref="WorkQueueHub{TContract}.Proxy"/>'s queue),
    /// with the same counting and join as a remote producer.
    /// </summary>
    /// <typeparam name="TContract">The hub's contract.</typeparam>
    /// <param name="hub">The hub.</param>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The producer.</returns>
    public static WorkQueueProducer<TContract> CreateProducer<TContract>(WorkQueueHub<TContract> hub, WorkQueueProducerOptions? options = null)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(hub);
        options ??= new WorkQueueProducerOptions();
        options.Validate();
        return new WorkQueueProducer<TContract>(hub.Invoker, options.MaxOutstandingCalls);
    }

    /// <summary>
    /// Connects to a hub's worker endpoint and serves <paramref name="implementation"/> there: from then on the hub sends
    /// this process calls, up to its <see cref="WorkQueueOptions.WorkerConcurrency"/> at once, until the connection closes.
    /// </summary>
    /// <typeparam name="TContract">The hub's contract.</typeparam>
    /// <param name="endpoint">The hub's worker endpoint.</param>
    /// <param name="implementation">Runs the calls; called concurrently when the hub allows more than one call per worker.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The started connection; await its <see cref="RpcConnection.Completion"/> to serve until the hub goes away.</returns>
    public static Task<RpcConnection> ConnectWorkerAsync<TContract>(string endpoint, TContract implementation, RpcConnectionOptions? options = null, CancellationToken cancellationToken = default)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return RpcConnection.ConnectAsync(endpoint, connection => connection.AddService(implementation), options, cancellationToken);
    }

    /// <summary>
    /// Tells whether a call failed because its worker was lost and it was not re-run: a <see cref="WorkerLostException"/>,
    /// or a <see cref="RemoteInvocationException"/> carrying one from the hub (what a raw proxy sees).
    /// </summary>
    /// <param name="exception">The call's exception.</param>
    /// <returns>Whether the worker was lost.</returns>
    public static bool IsWorkerLost(Exception exception) =>
        exception is WorkerLostException
        || (exception is RemoteInvocationException remote && remote.RemoteTypeName == WorkerLostTypeName);

    internal static readonly string WorkerLostTypeName = typeof(WorkerLostException).FullName!;
}
