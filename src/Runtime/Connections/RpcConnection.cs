using System;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Connections;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Transports;

namespace Rpc;

/// <summary>
/// One connection to a peer. Symmetric: either side can call the contracts the other serves (<see cref="CreateProxy{TContract}"/>)
/// and serve contracts of its own (<see cref="AddService{TContract}(TContract)"/>), so a server can call back a client.
/// </summary>
/// <remarks>
/// When the connection is lost, every pending call fails with <see cref="ConnectionLostException"/> (unless its caller
/// cancelled it first: the caller's cancellation wins), calls made afterwards fail at once, and server methods running
/// for the peer see their cancellation token fire.
/// </remarks>
public sealed class RpcConnection : IAsyncDisposable
{
    private readonly TransportConnection? _transportConnection;
    private readonly ProtocolConnection _protocol;
    private int _started;

    private RpcConnection(IDuplexPipe pipe, TransportConnection? transportConnection, string remoteEndpoint, RpcConnectionOptions options, bool dialed = false)
    {
        options.Validate();
        _transportConnection = transportConnection;
        RemoteEndpoint = remoteEndpoint;
        Options = options;
        Action<Exception?> abortTransport = transportConnection is null
            ? reason => CompletePipe(pipe, reason)
            : reason => transportConnection.Abort(reason);
        var keepAliveInterval = options.KeepAliveIntervalFor(remoteEndpoint);
        _protocol = options.Protocol.CreateConnection(pipe, options, abortTransport, keepAliveInterval);
        _protocol.Telemetry = new ConnectionTelemetry(RpcTelemetry.For(options.MeterFactory), _protocol.Protocol.RpcSystem, remoteEndpoint, dialed);
        if (options.LoggerFactory is { } loggerFactory)
        {
            var logger = loggerFactory.CreateLogger(RpcLog.ConnectionCategory);
            _protocol.EnableLogging(logger, remoteEndpoint);
            _ = _protocol.Completion.ContinueWith(
                static (_, state) =>
                {
                    var (connection, logger) = ((RpcConnection, ILogger))state!;
                    RpcLog.Closed(logger, connection.RemoteEndpoint, connection.CloseReason, connection._protocol.PeerHungUp);
                },
                (this, logger),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>Gets a description of the peer, as the transport reports it.</summary>
    public string RemoteEndpoint { get; }

    /// <summary>Gets the settings of this connection.</summary>
    public RpcConnectionOptions Options { get; }

    /// <summary>Gets whether the connection is open.</summary>
    public bool IsConnected => !_protocol.IsClosed;

    /// <summary>Gets a task that completes (never faults) when the connection has closed, for whatever reason.</summary>
    public Task Completion => _protocol.Completion;

    /// <summary>Gets why the connection closed, or <see langword="null"/> while it is open or after a local dispose.</summary>
    public Exception? CloseReason => _protocol.CloseReason;

    internal ProtocolConnection Protocol => _protocol;

    /// <summary>Reads nothing more from the peer until <paramref name="until"/> completes (see <see cref="ProtocolConnection.PauseReading"/>).</summary>
    internal void PauseReading(Task until) => _protocol.PauseReading(until);

    /// <summary>Connects to an endpoint and starts the connection.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:5000</c>.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The started connection.</returns>
    public static Task<RpcConnection> ConnectAsync(string endpoint, RpcConnectionOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(endpoint, configure: null, options, cancellationToken);

    /// <summary>
    /// Connects to an endpoint, lets <paramref name="configure"/> add the services this side offers the peer (callbacks),
    /// then starts the connection.
    /// </summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:5000</c>.</param>
    /// <param name="configure">Adds local services before any message is read, or <see langword="null"/>.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The started connection.</returns>
    public static async Task<RpcConnection> ConnectAsync(string endpoint, Action<RpcConnection>? configure, RpcConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= RpcConnectionOptions.Default;
        var transport = await RpcTransports.ConnectAsync(endpoint, options.Transport, cancellationToken).ConfigureAwait(false);
        RpcConnection? connection = null;
        try
        {
            connection = new RpcConnection(transport.Transport, transport, transport.RemoteEndpoint, options, dialed: true);
            configure?.Invoke(connection);
            connection.Start();
            return connection;
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await transport.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Creates a connection over an established transport connection. Call <see cref="Start"/> after adding services.</summary>
    /// <param name="transport">The transport connection; the <see cref="RpcConnection"/> owns it from now on.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The connection, not yet started.</returns>
    public static RpcConnection Create(TransportConnection transport, RpcConnectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        return new RpcConnection(transport.Transport, transport, transport.RemoteEndpoint, options ?? RpcConnectionOptions.Default);
    }

    /// <summary>
    /// Creates a connection over any duplex pipe (for example an in-memory pair from
    /// <c>Nerdbank.Streams.FullDuplexStream.CreatePipePair()</c>). Call <see cref="Start"/> after adding services.
    /// </summary>
    /// <param name="transport">The byte stream to the peer; the connection completes both ends when it closes.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The connection, not yet started.</returns>
    public static RpcConnection Create(IDuplexPipe transport, RpcConnectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        return new RpcConnection(transport, null, "pipe", options ?? RpcConnectionOptions.Default);
    }

    /// <summary>Creates a typed proxy: each call on it is sent to the peer over this connection.</summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface the peer serves.</typeparam>
    /// <returns>The proxy. Proxies are cheap; create as many as you like.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TContract"/> has no generated contract.</exception>
    public TContract CreateProxy<TContract>()
        where TContract : class =>
        RpcContractRegistry.Get<TContract>().CreateProxy(_protocol);

    /// <summary>Serves <paramref name="implementation"/> to the peer on this connection.</summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="implementation">The object whose methods the peer calls.</param>
    /// <returns>This connection.</returns>
    /// <exception cref="InvalidOperationException">
    /// A method's wire name is already served on this connection, or (JSON-RPC only) the connection has started.
    /// </exception>
    public RpcConnection AddService<TContract>(TContract implementation)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(implementation);
        _protocol.AddStub(RpcContractRegistry.Get<TContract>().CreateStub(implementation));
        return this;
    }

    /// <summary>
    /// Serves <typeparamref name="TContract"/> per call on this connection: <paramref name="activator"/> makes the
    /// implementation of each call and releases it when the call is over.
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="activator">Makes and releases the implementation of each call.</param>
    /// <returns>This connection.</returns>
    /// <exception cref="InvalidOperationException">
    /// A method's wire name is already served on this connection, or (JSON-RPC only) the connection has started.
    /// </exception>
    public RpcConnection AddService<TContract>(IRpcServiceActivator<TContract> activator)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(activator);
        _protocol.AddStub(new PerCallStub<TContract>(RpcContractRegistry.Get<TContract>(), activator, this));
        return this;
    }

    /// <summary>Starts reading from the peer. Idempotent.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            if (_protocol.Telemetry.OnOpened())
            {
                _ = _protocol.Completion.ContinueWith(static (_, telemetry) => ((ConnectionTelemetry)telemetry!).OnClosed(), _protocol.Telemetry, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            _protocol.Start();
        }
    }

    /// <summary>Closes the connection at once: pending calls fail with <see cref="ConnectionLostException"/>.</summary>
    public void Abort() => _protocol.Abort(new ConnectionLostException("The connection was aborted locally."));

    /// <summary>Closes the connection and releases the transport. Pending calls fail with <see cref="ConnectionLostException"/>.</summary>
    /// <returns>A task that completes when everything is released.</returns>
    public async ValueTask DisposeAsync()
    {
        await _protocol.DisposeAsync().ConfigureAwait(false);
        if (_transportConnection is not null)
        {
            await _transportConnection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes our sending half so the peer sees the end of the stream. The receive loop completes the input half itself
    /// once its pending read is cancelled: completing a reader under a pending read is not allowed.
    /// </summary>
    private static void CompletePipe(IDuplexPipe pipe, Exception? reason)
    {
        try
        {
            pipe.Output.Complete(reason is ConnectionLostException ? null : reason);
        }
        catch (InvalidOperationException)
        {
            // A flush was in progress on another thread; the pipe is being torn down either way.
        }
    }
}
