using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Server;
using Rpc.Transports;

namespace Rpc;

/// <summary>
/// Serves contracts to every client that connects on its endpoints: many concurrent clients, any mix of transports and
/// of the served protocols on one endpoint, graceful shutdown.
/// </summary>
/// <remarks>
/// Each endpoint tells its protocols' clients apart by the first byte each sends (<see cref="RpcServerOptions.Protocols"/>),
/// so <see cref="RpcConnectionOptions.Protocol"/> in <see cref="RpcServerOptions.Connection"/> is ignored: clients choose.
/// </remarks>
/// <example>
/// <code>
/// await using var server = new RpcServer().AddService&lt;ICalculator&gt;(new Calculator());
/// await server.ListenAsync("unix:///tmp/calc.sock");
/// </code>
/// </example>
public sealed class RpcServer : IAsyncDisposable
{
    private readonly RpcServerOptions _options;
    private readonly List<Action<RpcConnection>> _services = [];
    private readonly List<(TransportListener Listener, Task AcceptLoop)> _listeners = [];
    private readonly ConcurrentDictionary<RpcConnection, byte> _connections = new();

    // Accepted clients whose first byte (their protocol) is awaited, each bounded by TransportOptions.HandshakeTimeout.
    private readonly HashSet<Task> _opening = [];
    private readonly CancellationTokenSource _stopping = new();

    // Null when RpcConnectionOptions.LoggerFactory is.
    private readonly ILogger? _logger;
    private Task? _stopTask;

    /// <summary>Initializes a server.</summary>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    public RpcServer(RpcServerOptions? options = null)
    {
        _options = options ?? new RpcServerOptions();
        _options.Connection.Validate();
        RpcServerOptions.ValidateProtocols(_options.Protocols, nameof(options));
        _logger = _options.Connection.LoggerFactory?.CreateLogger(RpcLog.ServerCategory);
    }

    /// <summary>Gets the connections currently open.</summary>
    public IReadOnlyCollection<RpcConnection> Connections => [.. _connections.Keys];

    /// <summary>Gets the endpoints the server listens on, as bound (a <c>tcp://…:0</c> endpoint shows the chosen port).</summary>
    public IReadOnlyList<string> Endpoints
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners.Select(l => l.Listener.Endpoint)];
            }
        }
    }

    /// <summary>
    /// Raised (for tests and diagnostics) when an accepted client is closed before it became a connection: it sent
    /// nothing within <see cref="TransportOptions.HandshakeTimeout"/> on a binary-only endpoint (<see cref="TimeoutException"/>), its first byte
    /// belongs to no protocol, or to one its endpoint does not serve (<see cref="RpcProtocolException"/>).
    /// </summary>
    internal event Action<Exception>? ClientRefused;

    /// <summary>
    /// Raised for each accepted connection after its services are added and before it starts, so a handler can add
    /// per-connection services or keep the connection to call the client back.
    /// </summary>
    public event Action<RpcConnection>? ConnectionAccepted;

    /// <summary>Serves one implementation, shared by every connection.</summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="implementation">The object whose methods clients call; it must be safe to call concurrently.</param>
    /// <returns>This server.</returns>
    public RpcServer AddService<TContract>(TContract implementation)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return AddService<TContract>(_ => implementation);
    }

    /// <summary>
    /// Serves an implementation made per connection; the factory gets the connection, so the implementation can create
    /// a proxy of a callback contract the client serves.
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="factory">Makes the implementation for one connection.</param>
    /// <returns>This server.</returns>
    public RpcServer AddService<TContract>(Func<RpcConnection, TContract> factory)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        Runtime.RpcContractRegistry.Get<TContract>();
        lock (_services)
        {
            _services.Add(connection => connection.AddService(factory(connection)));
        }

        return this;
    }

    /// <summary>
    /// Serves an implementation made per call: <paramref name="activator"/> makes the implementation of each call and
    /// releases it when the call is over (its task completed, its stream ended or was abandoned).
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="activator">Makes and releases the implementation of each call; called concurrently.</param>
    /// <returns>This server.</returns>
    public RpcServer AddService<TContract>(IRpcServiceActivator<TContract> activator)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(activator);
        Runtime.RpcContractRegistry.Get<TContract>();
        lock (_services)
        {
            _services.Add(connection => connection.AddService<TContract>(activator));
        }

        return this;
    }

    /// <summary>
    /// Binds an endpoint and starts accepting connections on it, serving the protocols of
    /// <see cref="RpcServerOptions.Protocols"/>. Call once per endpoint.
    /// </summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:0</c>.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The endpoint as bound.</returns>
    /// <exception cref="ObjectDisposedException">The server is stopping or stopped.</exception>
    public Task<string> ListenAsync(string endpoint, CancellationToken cancellationToken = default) =>
        ListenAsync(endpoint, _options.Protocols, cancellationToken);

    /// <summary>
    /// Binds an endpoint that serves only <paramref name="protocols"/> and starts accepting connections on it. A client of
    /// another protocol sees the connection close at once (<see cref="ClientRefused"/> reports why). Call once per endpoint.
    /// </summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:0</c>.</param>
    /// <param name="protocols">The protocols this endpoint serves, instead of <see cref="RpcServerOptions.Protocols"/>.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The endpoint as bound.</returns>
    /// <exception cref="ArgumentException"><paramref name="protocols"/> names no protocol, or one twice.</exception>
    /// <exception cref="ObjectDisposedException">The server is stopping or stopped.</exception>
    public async Task<string> ListenAsync(string endpoint, IEnumerable<RpcProtocol> protocols, CancellationToken cancellationToken = default)
    {
        var served = RpcServerOptions.ValidateProtocols(protocols, nameof(protocols));
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var listener = await RpcTransports.ListenAsync(endpoint, _options.Connection.Transport, cancellationToken).ConfigureAwait(false);
        lock (_listeners)
        {
            if (_stopping.IsCancellationRequested)
            {
                _ = listener.DisposeAsync().AsTask();
                throw new ObjectDisposedException(nameof(RpcServer));
            }

            _listeners.Add((listener, AcceptLoopAsync(listener, served)));
        }

        return listener.Endpoint;
    }

    /// <summary>
    /// Stops gracefully: stops accepting, answers new calls with <see cref="RpcErrorCode.ServerShuttingDown"/>, lets
    /// running calls finish for <see cref="RpcServerOptions.ShutdownTimeout"/>, then fires their cancellation tokens and
    /// waits <see cref="RpcServerOptions.CancellationGracePeriod"/> more, then closes every connection. Idempotent.
    /// </summary>
    /// <param name="cancellationToken">Skips the waiting: running calls are cancelled and connections closed at once.</param>
    /// <returns>A task that completes when every connection and listener is closed.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_listeners)
        {
            return _stopTask ??= StopCoreAsync(cancellationToken);
        }
    }

    /// <summary>Stops the server as <see cref="StopAsync"/> does.</summary>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);

        // Refuse new calls before releasing the endpoints, so no call slips in between; connections accepted meanwhile
        // refuse them from the start (see Accept).
        RejectNewCalls();
        (TransportListener Listener, Task AcceptLoop)[] listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (var (listener, _) in listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(listeners.Select(l => l.AcceptLoop)).ConfigureAwait(false);
        Task[] opening;
        lock (_opening)
        {
            opening = [.. _opening];
        }

        // Clients still silent are closed now; those that spoke meanwhile become connections that refuse new calls.
        await Task.WhenAll(opening).ConfigureAwait(false);

        var connections = RejectNewCalls();

        if (!await DrainAsync(connections, _options.ShutdownTimeout, cancellationToken).ConfigureAwait(false))
        {
            if (_logger is not null)
            {
                RpcLog.DrainTimedOut(_logger, connections.Sum(c => c.Protocol.IncomingCallsInFlight), _options.ShutdownTimeout);
            }

            foreach (var connection in connections)
            {
                connection.Protocol.CancelIncomingCalls();
            }

            await DrainAsync(connections, _options.CancellationGracePeriod, cancellationToken).ConfigureAwait(false);
        }

        await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    private RpcConnection[] RejectNewCalls()
    {
        var connections = _connections.Keys.ToArray();
        foreach (var connection in connections)
        {
            connection.Protocol.RejectNewCalls();
        }

        return connections;
    }

    private static async Task<bool> DrainAsync(RpcConnection[] connections, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await Task.WhenAll(connections.Select(c => c.Protocol.WhenIncomingCallsDrainedAsync(deadline.Token))).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync(TransportListener listener, RpcProtocol[] protocols)
    {
        while (!_stopping.IsCancellationRequested)
        {
            TransportConnection? transport;
            try
            {
                transport = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (Exception exception) when (_logger is not null)
            {
                // The loop ends as it would unlogged (StopAsync observes the fault); the operator learns why now, not then.
                RpcLog.AcceptFailed(_logger, listener.Endpoint, exception);
                throw;
            }

            if (transport is null)
            {
                return;
            }

            // Off the loop and concurrently: a client that is slow to send its first byte delays no other client.
            var opening = Task.Run(() => OpenAsync(transport, protocols), CancellationToken.None);
            lock (_opening)
            {
                _opening.Add(opening);
            }

            _ = opening.ContinueWith(
                static (task, state) =>
                {
                    var set = (HashSet<Task>)state!;
                    lock (set)
                    {
                        set.Remove(task);
                    }
                },
                _opening,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>Waits for the client's first byte, then serves it in the protocol that byte names, or closes it.</summary>
    private async Task OpenAsync(TransportConnection transport, RpcProtocol[] served)
    {
        RpcProtocol protocol;
        try
        {
            // Silence is bounded only where every served protocol's clients greet at once: a JSON-RPC client may connect
            // and wait before its first request, which is no more than an idle connection.
            var silenceLimit = Array.TrueForAll(served, static p => p.ClientGreetsOnConnect)
                ? _options.Connection.Transport.HandshakeTimeout
                : Timeout.InfiniteTimeSpan;
            protocol = await ProtocolSniffer.DetectAsync(
                transport.Transport.Input, served, transport.RemoteEndpoint, silenceLimit, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            if (!_stopping.IsCancellationRequested)
            {
                if (_logger is not null)
                {
                    RpcLog.Refused(_logger, transport.RemoteEndpoint, exception);
                }

                ClientRefused?.Invoke(exception);
            }

            return;
        }

        Accept(transport, protocol);
    }

    private void Accept(TransportConnection transport, RpcProtocol protocol)
    {
        var connection = RpcConnection.Create(transport, _options.Connection.WithProtocol(protocol));
        try
        {
            lock (_services)
            {
                foreach (var addService in _services)
                {
                    addService(connection);
                }
            }

            ConnectionAccepted?.Invoke(connection);
        }
        catch (Exception exception)
        {
            // A failing service factory refuses this client only; the server keeps accepting others.
            if (_logger is not null)
            {
                RpcLog.ConnectionSetupFailed(_logger, transport.RemoteEndpoint, exception);
            }

            connection.Protocol.Abort(new RpcException($"The server could not set up the connection: {exception.Message}", exception));
            _ = connection.DisposeAsync().AsTask();
            return;
        }

        _connections[connection] = 0;
        if (_stopping.IsCancellationRequested)
        {
            connection.Protocol.RejectNewCalls();
        }

        if (_logger is not null)
        {
            RpcLog.ConnectionAccepted(_logger, connection.RemoteEndpoint, protocol);
        }

        connection.Start();
        _ = ForgetWhenClosedAsync(connection);
    }

    private async Task ForgetWhenClosedAsync(RpcConnection connection)
    {
        await connection.Completion.ConfigureAwait(false);
        _connections.TryRemove(connection, out _);
        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
