using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Transports;

namespace Rpc;

/// <summary>
/// A client that comes back: it holds a connection to one endpoint and, when the connection is lost, makes a new one
/// (exponential backoff with jitter, <see cref="RpcClientOptions.Reconnect"/>). Its proxies (<see cref="GetProxy{TContract}"/>)
/// survive reconnects: each call goes to the connection of the moment.
/// </summary>
/// <remarks>
/// <para>What a caller sees, by the moment the connection is lost:</para>
/// <list type="bullet">
/// <item>A call made while there is no connection fails at once with <see cref="ConnectionLostException"/>, or, with
/// <see cref="RpcClientOptions.WaitForReady"/>, waits for the next connection (bounded by its cancellation token). It was
/// never sent.</item>
/// <item>A call in flight when the connection drops may have run on the server, wholly or in part: it fails with
/// <see cref="ConnectionLostException"/>, unless its method is marked <c>[RpcIdempotent]</c>; such a call is sent again
/// on the next connection, up to <see cref="RpcClientOptions.MaxIdempotentAttempts"/> times in all.</item>
/// <item>A stream is never sent again, idempotent or not: its caller may already have consumed items of the first run.</item>
/// <item>A notification made while there is no connection is dropped: a notification promises no delivery.</item>
/// </list>
/// <para>A call that finds the client not connected and not trying (not started, or given up) starts it connecting.</para>
/// </remarks>
public sealed partial class RpcClient : IAsyncDisposable
{
    private readonly string _endpoint;
    private readonly RpcClientOptions _options;
    private readonly Invoker _invoker;
    private readonly CancellationTokenSource _disposing = new();

    // Null when RpcConnectionOptions.LoggerFactory is.
    private readonly ILogger? _logger;

    // Guards the state and the start of the connection loop; never held on the call path or while user code runs.
    private readonly object _gate = new();

    // The connection of the moment, as a task: completed with it while connected (a dead one is replaced by whoever sees
    // it first, see RetireReady), pending while connecting, faulted when the client gave up or was disposed. Calls read
    // it with no lock; waiting calls await it.
    private TaskCompletionSource<RpcConnection> _ready = NewReady();
    private RpcClientState _state;
    private Task? _loop;
    private Exception? _lastError;

    /// <summary>Creates a client of <paramref name="endpoint"/>; it connects on <see cref="ConnectAsync"/> or its first call.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:5000</c>.</param>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    /// <exception cref="FormatException"><paramref name="endpoint"/> is not an endpoint.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public RpcClient(string endpoint, RpcClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        RpcEndpoint.Parse(endpoint);
        options ??= new RpcClientOptions();
        options.Validate();
        _endpoint = endpoint;
        _options = options;
        _invoker = new Invoker(this);
        _logger = options.Connection.LoggerFactory?.CreateLogger(RpcLog.ClientCategory);
    }

    /// <summary>Occurs when <see cref="State"/> changes, on the thread that changed it. Handlers must not block.</summary>
    public event EventHandler<RpcClientStateChangedEventArgs>? StateChanged;

    /// <summary>Gets the endpoint the client connects to.</summary>
    public string Endpoint => _endpoint;

    /// <summary>Gets where the client is in its life.</summary>
    public RpcClientState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Gets the open connection, or <see langword="null"/> while there is none. For advanced use (its
    /// <see cref="RpcConnection.RemoteEndpoint"/>, proxies bound to this one connection): the client may replace it at any
    /// time, and disposes it when it does.
    /// </summary>
    public RpcConnection? Connection
    {
        get
        {
            var ready = Volatile.Read(ref _ready).Task;
            return ready.IsCompletedSuccessfully && ready.Result.IsConnected ? ready.Result : null;
        }
    }

    /// <summary>Test hook: called with the number of failed attempts in a row and the wait before the next, once that wait has started.</summary>
    internal Action<int, TimeSpan>? BackoffStarted { get; set; }

    /// <summary>Creates a typed proxy whose calls go to the client's connection of the moment; it survives reconnects.</summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface the server serves.</typeparam>
    /// <returns>The proxy. Proxies are cheap; create as many as you like.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TContract"/> has no generated contract.</exception>
    public TContract GetProxy<TContract>()
        where TContract : class =>
        RpcContractRegistry.Get<TContract>().CreateProxy(_invoker);

    /// <summary>Starts connecting, if the client is not connected or trying already, and waits until it is connected.</summary>
    /// <param name="cancellationToken">Stops the wait (not the connecting).</param>
    /// <returns>A task that completes once connected.</returns>
    /// <exception cref="ConnectionLostException">The client gave up (see <see cref="RpcReconnectPolicy.MaxAttempts"/>); the inner exception is the last attempt's error.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        WaitUntilConnectedAsync(cancellationToken);

    /// <summary>Waits until the client is connected, starting it if it is not connected or trying already.</summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>A task that completes once connected.</returns>
    /// <exception cref="ConnectionLostException">The client gave up; the inner exception is the last attempt's error.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default) =>
        await WaitForConnectionAsync(waitForReady: true, method: null, deadline: null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Stops reconnecting and closes the connection: calls in flight fail with <see cref="ConnectionLostException"/>,
    /// waiting and later calls with <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <returns>A task that completes when the connection is released.</returns>
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        RpcClientState previous;
        lock (_gate)
        {
            previous = _state;
            if (previous == RpcClientState.Disposed)
            {
                return;
            }

            _state = RpcClientState.Disposed;
            loop = _loop;
        }

        var disposed = NewReady();
        Fail(disposed, new ObjectDisposedException(nameof(RpcClient)));
        Fail(Interlocked.Exchange(ref _ready, disposed), new ObjectDisposedException(nameof(RpcClient)));
        await _disposing.CancelAsync().ConfigureAwait(false);
        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        RaiseStateChanged(previous, RpcClientState.Disposed, reason: null);
    }

    /// <summary>
    /// Gets the connection for a call: the open one, or, when there is none, the next one if <paramref name="waitForReady"/>
    /// (else <see cref="ConnectionLostException"/> at once).
    /// </summary>
    /// <remarks>
    /// The wait is bounded by <paramref name="cancellationToken"/> and by the call's <paramref name="deadline"/>: a call
    /// waiting for the connection fails at its deadline with <see cref="RpcTimeoutException"/>, like one waiting for its
    /// reply.
    /// </remarks>
    private async ValueTask<RpcConnection> WaitForConnectionAsync(bool waitForReady, RpcMethod? method, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            var ready = Volatile.Read(ref _ready);
            var task = ready.Task;
            if (task.IsCompletedSuccessfully)
            {
                if (task.Result.IsConnected)
                {
                    return task.Result;
                }

                RetireReady(ready);
                continue;
            }

            ObjectDisposedException.ThrowIf(task.IsFaulted && State == RpcClientState.Disposed, this);

            EnsureStarted();
            if (!waitForReady)
            {
                throw new ConnectionLostException(
                    $"The client of '{_endpoint}' is not connected ({State}); the call was not sent. Set RpcClientOptions.WaitForReady to wait for the connection instead.",
                    Volatile.Read(ref _lastError));
            }

            var next = Volatile.Read(ref _ready).Task;
            if (deadline is not { } moment)
            {
                await next.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var clock = _options.Connection.TimeProvider;
            var left = moment - clock.GetUtcNow();
            try
            {
                await next.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, clock, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!next.IsCompleted)
            {
                throw RpcCallOptions.DeadlineExceeded(method!, innerException: null);
            }
        }
    }

    /// <summary>Starts the connection loop unless it runs; after the client gave up, forgets that it did.</summary>
    private void EnsureStarted()
    {
        lock (_gate)
        {
            if (_loop is not null || _state == RpcClientState.Disposed)
            {
                return;
            }

            var ready = Volatile.Read(ref _ready);
            if (ready.Task.IsFaulted)
            {
                Interlocked.CompareExchange(ref _ready, NewReady(), ready);
            }

            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Connects, waits for the connection to close, and connects again, until disposed or out of attempts.</summary>
    private async Task RunAsync()
    {
        var token = _disposing.Token;
        var policy = _options.Reconnect;
        var everConnected = false;
        var failures = 0;
        while (true)
        {
            SetState(everConnected ? RpcClientState.Reconnecting : RpcClientState.Connecting, Volatile.Read(ref _lastError));
            RpcConnection connection;
            try
            {
                connection = await OpenAsync(runReconnectedHook: everConnected, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                Volatile.Write(ref _lastError, exception);
                failures++;
                // No transport for the scheme, or an address the transport refuses: trying again cannot help.
                if (failures >= policy.MaxAttempts || exception is NotSupportedException or ArgumentException)
                {
                    GiveUp(exception, failures);
                    return;
                }

                var delay = policy.GetDelay(failures, Random.Shared.NextDouble());
                if (_logger is not null)
                {
                    RpcLog.ClientConnectFailed(_logger, failures == 1 ? LogLevel.Warning : LogLevel.Debug, _endpoint, failures, delay, exception.Message);
                }

                var backoff = Task.Delay(delay, _options.Connection.TimeProvider, token);
                BackoffStarted?.Invoke(failures, delay);
                await backoff.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (token.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            await using (connection.ConfigureAwait(false))
            {
                var ready = Volatile.Read(ref _ready);
                if (!ready.TrySetResult(connection))
                {
                    return; // Disposed while connecting.
                }

                if (everConnected && _logger is not null)
                {
                    RpcLog.ClientReconnected(_logger, _endpoint, failures + 1);
                }

                failures = 0;
                everConnected = true;
                SetState(RpcClientState.Connected, reason: null);
                await connection.Completion.WaitAsync(token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (token.IsCancellationRequested)
                {
                    return;
                }

                Volatile.Write(ref _lastError, connection.CloseReason ?? new ConnectionLostException($"The connection to '{_endpoint}' was closed by the peer."));
                RetireReady(ready);
            }
        }
    }

    /// <summary>Opens a connection (the configure callback serves callbacks on it) and, on a reconnect, runs the Reconnected hook.</summary>
    private async Task<RpcConnection> OpenAsync(bool runReconnectedHook, CancellationToken cancellationToken)
    {
        var connection = await RpcConnection.ConnectAsync(_endpoint, _options.Configure, _options.Connection, cancellationToken).ConfigureAwait(false);
        if (!runReconnectedHook || _options.Reconnected is not { } hook)
        {
            return connection;
        }

        try
        {
            await hook(connection, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void GiveUp(Exception lastError, int attempts)
    {
        if (_logger is not null)
        {
            RpcLog.ClientGaveUp(_logger, _endpoint, attempts, lastError);
        }

        RpcClientState previous;
        lock (_gate)
        {
            // Under the lock, so a call starting a new loop (EnsureStarted) sees all of it or none of it.
            _loop = null;
            Fail(
                Volatile.Read(ref _ready),
                new ConnectionLostException($"The client of '{_endpoint}' gave up after {attempts} failed connection attempt(s) in a row: {lastError.Message}", lastError));
            previous = _state;
            if (previous == RpcClientState.Disposed)
            {
                return;
            }

            _state = RpcClientState.Disconnected;
        }

        RaiseStateChanged(previous, RpcClientState.Disconnected, lastError);
    }

    /// <summary>Replaces a ready task whose connection has died by a pending one, once, whoever sees the death first.</summary>
    private void RetireReady(TaskCompletionSource<RpcConnection> dead) =>
        Interlocked.CompareExchange(ref _ready, NewReady(), dead);

    private void SetState(RpcClientState state, Exception? reason)
    {
        RpcClientState previous;
        lock (_gate)
        {
            previous = _state;
            if (previous == state || previous == RpcClientState.Disposed)
            {
                return;
            }

            _state = state;
        }

        RaiseStateChanged(previous, state, reason);
    }

    private void RaiseStateChanged(RpcClientState previous, RpcClientState state, Exception? reason)
    {
        try
        {
            StateChanged?.Invoke(this, new RpcClientStateChangedEventArgs(previous, state, reason));
        }
        catch (Exception)
        {
            // A failing handler must not stop the client from reconnecting; it is the handler's bug to report.
        }
    }

    private static TaskCompletionSource<RpcConnection> NewReady() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Fail(TaskCompletionSource<RpcConnection> ready, Exception exception)
    {
        if (ready.TrySetException(exception))
        {
            // Observed here so a failure nobody waited for is not reported as an unobserved task exception.
            _ = ready.Task.Exception;
        }
    }
}
