using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.WorkQueues;

namespace Rpc;

/// <summary>
/// A typed work queue: workers attach and serve <typeparamref name="TContract"/>; producers call
/// <typeparamref name="TContract"/> on the hub, and each call runs on exactly one worker, the least busy one.
/// </summary>
/// <typeparam name="TContract">An <c>[RpcContract]</c> interface the workers serve and the producers call.</typeparam>
/// <remarks>
/// <para>
/// The hub serves producers the contract's generated proxy over an invoker that picks a worker and forwards the call
/// to that worker connection's invoker: no per-contract code, no reflection, and any contract works.
/// </para>
/// <para>
/// Workers and producers connect on separate endpoints (<see cref="ListenForWorkersAsync"/>,
/// <see cref="ListenForProducersAsync"/>), so the hub knows a worker by where it connected, with no registration
/// message: a worker is an ordinary connection serving the contract (<see cref="RpcWorkQueue.ConnectWorkerAsync{TContract}"/>).
/// </para>
/// <para>Guarantees and limits:</para>
/// <list type="bullet">
/// <item>Each call is given to one worker at a time: the attached worker with the fewest calls in flight and a free slot
/// (<see cref="WorkQueueOptions.WorkerConcurrency"/>), ties in round-robin order. With no free slot (or no worker at all)
/// the call waits, first in first out, in the hub's queue of <see cref="WorkQueueOptions.QueueCapacity"/> calls; beyond
/// that it waits for room. Only the caller's cancellation or the hub's stop ends the wait: there is no timeout of its own.</item>
/// <item>When a worker is lost mid-call, the call may have run, wholly or in part. A method marked <c>[RpcIdempotent]</c>
/// is re-run on another worker, ahead of the queue, up to <see cref="WorkQueueOptions.MaxAttempts"/> runs in all; any other
/// call fails with <see cref="WorkerLostException"/> and is never re-run. A worker's own error (its method threw) is
/// passed to the caller and never retried.</item>
/// <item>Streams go to one worker and are never re-run; a lost worker ends the stream with <see cref="WorkerLostException"/>.
/// Notifications go to one worker, are never re-run, and hold a worker slot only while being sent.</item>
/// <item>Back-pressure reaches producers through the transport: when a producer's call (or notification) finds the queue
/// full, the hub stops reading that producer's connection until the call has room, so its further calls wait in the
/// socket's (or ring's) buffers and then in the producer's sends, never in the hub's memory. At most one waiting call per
/// producer connection holds its arguments in the hub. Producers made with <see cref="RpcWorkQueue.CreateProducer{TContract}(RpcConnection, WorkQueueProducerOptions)"/>
/// also bound their own outstanding calls (<see cref="WorkQueueProducerOptions.MaxOutstandingCalls"/>). A paused
/// producer's cancellations are read when reading resumes; its local call task is cancelled at once.</item>
/// </list>
/// </remarks>
public sealed class WorkQueueHub<TContract> : IAsyncDisposable
    where TContract : class
{
    private readonly WorkQueueOptions _options;
    private readonly RpcContract<TContract> _contract;
    private readonly WorkQueueMetrics _metrics;

    // Null when the hub's RpcConnectionOptions.LoggerFactory is.
    private readonly ILogger? _logger;
    private readonly WorkQueueDispatcher _dispatcher;
    private readonly RpcServer _producerServer;
    private readonly RpcServer _workerServer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _stopGate = new();
    private Task? _stopTask;

    /// <summary>Gets the server producers connect to (tests look at its connections).</summary>
    internal RpcServer ProducerServer => _producerServer;

    /// <summary>Initializes a hub. It accepts nobody until told where to listen.</summary>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    /// <exception cref="InvalidOperationException"><typeparamref name="TContract"/> has no generated contract.</exception>
    public WorkQueueHub(WorkQueueOptions? options = null)
    {
        _options = options ?? new WorkQueueOptions();
        _options.Validate();
        _contract = RpcContractRegistry.Get<TContract>();
        Name = _options.Name ?? _contract.Name;
        _metrics = new WorkQueueMetrics(Name, _options.Server.Connection.MeterFactory);
        _dispatcher = new WorkQueueDispatcher(_options.QueueCapacity, _metrics);
        _logger = _options.Server.Connection.LoggerFactory?.CreateLogger(RpcLog.WorkQueueCategory);
        Invoker = CreateInvoker(producer: null);
        Proxy = _contract.CreateProxy(Invoker);
        _producerServer = new RpcServer(_options.Server).AddService(ProxyFor);
        _workerServer = new RpcServer(_options.Server);
        _workerServer.ConnectionAccepted += connection => AddWorker(connection);
    }

    /// <summary>
    /// Gets the name of the <c>Rpc</c> meter, whose <c>rpc.work_queue.*</c> instruments report every hub: the meter of
    /// <see cref="WorkQueueOptions.Server"/>'s <see cref="RpcConnectionOptions.MeterFactory"/>, or the shared one.
    /// </summary>
    public static string MeterName => RpcTelemetry.Name;

    /// <summary>Gets the hub's name, the <c>rpc.work_queue.hub</c> tag of its metrics.</summary>
    public string Name { get; }

    /// <summary>
    /// Gets a proxy that queues calls on this hub from its own process, exactly as a remote producer's calls are queued.
    /// </summary>
    public TContract Proxy { get; }

    /// <summary>Gets the invoker under <see cref="Proxy"/>, for in-process producers.</summary>
    internal IRpcInvoker Invoker { get; }

    /// <summary>Gets how many workers are attached.</summary>
    public int WorkerCount => _dispatcher.WorkerCount;

    /// <summary>Gets how many calls wait in the queue for a worker (at most <see cref="WorkQueueOptions.QueueCapacity"/>, plus re-runs).</summary>
    public int QueueLength => _dispatcher.QueueLength;

    /// <summary>Gets how many calls wait for room in the full queue.</summary>
    public int WaitingForRoom => _dispatcher.WaitingForRoom;

    /// <summary>Gets how many calls run on workers.</summary>
    public int InFlight => _dispatcher.InFlight;

    /// <summary>Binds an endpoint where worker processes connect; each connection there is a worker.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/jobs-workers.sock</c> or <c>tcp://127.0.0.1:0</c>.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The endpoint as bound.</returns>
    public Task<string> ListenForWorkersAsync(string endpoint, CancellationToken cancellationToken = default) =>
        _workerServer.ListenAsync(endpoint, cancellationToken);

    /// <summary>Binds an endpoint where producers connect and call <typeparamref name="TContract"/>.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/jobs.sock</c> or <c>tcp://127.0.0.1:0</c>.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The endpoint as bound.</returns>
    public Task<string> ListenForProducersAsync(string endpoint, CancellationToken cancellationToken = default) =>
        _producerServer.ListenAsync(endpoint, cancellationToken);

    /// <summary>
    /// Attaches a connection whose peer serves <typeparamref name="TContract"/> as a worker, until the connection closes.
    /// Workers accepted on <see cref="ListenForWorkersAsync"/> are attached this way; the caller keeps ownership of a
    /// connection it passes here.
    /// </summary>
    /// <param name="connection">The connection to the worker.</param>
    /// <param name="concurrency">The worker's slots, or <see langword="null"/> for <see cref="WorkQueueOptions.WorkerConcurrency"/>.</param>
    public void AddWorker(RpcConnection connection, int? concurrency = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var slots = concurrency ?? _options.WorkerConcurrency;
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1, nameof(concurrency));
        var worker = new WorkQueueWorker(connection, slots);
        _dispatcher.Attach(worker);
        _ = DetachWhenClosedAsync(worker);
    }

    /// <summary>Serves the queue to a producer on a connection the caller made (call before the connection starts).</summary>
    /// <param name="connection">The connection to the producer.</param>
    /// <returns>The connection.</returns>
    public RpcConnection AddProducer(RpcConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection.AddService(ProxyFor(connection));
    }

    /// <summary>
    /// Stops: refuses new producers and calls, lets queued and running calls finish for the server's
    /// <see cref="RpcServerOptions.ShutdownTimeout"/>, fails calls still waiting for a worker, then closes the workers'
    /// connections. Idempotent.
    /// </summary>
    /// <param name="cancellationToken">Skips the waiting.</param>
    /// <returns>A task that completes when the hub has stopped.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_stopGate)
        {
            return _stopTask ??= StopCoreAsync(cancellationToken);
        }
    }

    /// <summary>Stops the hub as <see cref="StopAsync"/> does.</summary>
    /// <returns>A task that completes when the hub has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        // Producers first: their running calls still need workers to finish.
        await _producerServer.StopAsync(cancellationToken).ConfigureAwait(false);
        _dispatcher.Stop();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _workerServer.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The proxy a producer's calls run on: its own invoker, so a full queue pauses that producer alone.</summary>
    private TContract ProxyFor(RpcConnection producer) => _contract.CreateProxy(CreateInvoker(producer));

    private WorkQueueInvoker CreateInvoker(RpcConnection? producer) =>
        new(_dispatcher, producer, _metrics, _options.MaxAttempts, Name, _logger, _stopping.Token);

    private async Task DetachWhenClosedAsync(WorkQueueWorker worker)
    {
        await worker.Connection.Completion.ConfigureAwait(false);
        _dispatcher.Detach(worker);
    }
}
