using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Connections;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// The JSON-RPC 2.0 interop protocol: <c>Content-Length</c> header framing and System.Text.Json on StreamJsonRpc, with
/// the same failure semantics as the binary protocol (Rpc's exceptions, close behaviour, shutdown hooks).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The transport's reader is wrapped in a <see cref="FrameLimitPipeReader"/>, so an oversized or malformed header
/// disconnects before anything is buffered.</item>
/// <item>Server methods are invoked inline on StreamJsonRpc's read loop, in arrival order (see
/// <see cref="InlineSynchronizationContext"/>).</item>
/// <item>StreamJsonRpc needs every served method before it starts listening, so <see cref="AddStub"/> after
/// <see cref="Start"/> throws.</item>
/// </list>
/// </remarks>
[RequiresDynamicCode(DynamicCodeReason)]
[RequiresUnreferencedCode(UnreferencedCodeReason)]
internal sealed class JsonRpcProtocolConnection : ProtocolConnection
{
    internal const string DynamicCodeReason =
        "The JSON-RPC protocol runs on StreamJsonRpc and System.Text.Json reflection, which generate code at run time.";

    internal const string UnreferencedCodeReason =
        "The JSON-RPC protocol binds parameters and serializes user types by reflection (StreamJsonRpc, System.Text.Json).";

    private readonly JsonRpcEngine _rpc;
    private readonly Action<Exception?> _abortTransport;
    private readonly bool _yieldContinuations;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();

    // Wire names served so far (collisions are refused like the binary protocol's).
    private readonly Dictionary<string, RpcStub> _served = new(StringComparer.Ordinal);

    // Incoming requests in flight, by id, with the source of the token their method sees; notifications only count.
    private readonly Dictionary<RequestId, CancellationTokenSource> _incoming = [];

    // Under RpcCallOrdering.PerConnectionFifo, this connection's queued calls.
    private readonly DispatchLane? _dispatchLane;

    // Null when RpcConnectionOptions.FrameTimeout is infinite.
    private readonly FrameDeadline? _frameDeadline;

    // Null when keepalive is off for this connection.
    private readonly KeepAlive? _keepAlive;

    // The last request read while someone listened (see ObserveIfRefused).
    private JsonRpcRequest? _lastRequestRead;

    private int _started;
    private int _closed;
    private Exception? _closeReason;
    private RpcProtocolException? _violation;

    private JsonRpcProtocolConnection(IDuplexPipe pipe, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval)
    {
        Options = options;
        _abortTransport = abortTransport;
        _yieldContinuations = options.RunContinuationsAsynchronously;

        var formatter = new SystemTextJsonFormatter
        {
            // StreamJsonRpc's defaults (System.Text.Json's: property names as declared, case-sensitive, enums as
            // numbers) plus RpcBuffer as base64, and shared arrays refused. The setter copies the options and adds
            // StreamJsonRpc's converters.
            JsonSerializerOptions = new JsonSerializerOptions { Converters = { new RpcBufferJsonConverter(), new SharedArrayJsonRefusal() } },
        };
        _frameDeadline = FrameDeadline.Create(options.FrameTimeout, OnFrameTimeout);
        _keepAlive = KeepAlive.Create(keepAliveInterval, options, SendPing, OnKeepAliveTimeout);
        var input = new FrameLimitPipeReader(pipe.Input, this, options.MaxFrameSize, OnViolation, TakeReadPause, _frameDeadline, _keepAlive);
        var handler = new DuplicateRequestRejectingHandler(new CountingPipeWriter(pipe.Output, this), input, formatter, this);
        _rpc = new JsonRpcEngine(handler, formatter, this)
        {
            CancelLocallyInvokedMethodsWhenConnectionIsClosed = true,
            SynchronizationContext = InlineSynchronizationContext.Instance,
            ActivityTracingStrategy = JsonRpcTraceContext.Instance,
        };
        _rpc.Disconnected += OnDisconnected;

        // Served on every connection: a peer's keepalive needs an answer, whichever services this side offers.
        _rpc.AddLocalRpcMethod(KeepAlive.JsonRpcPingMethod, new Action(static () => { }));
        _dispatchLane = options.Dispatcher?.Options.Ordering == RpcCallOrdering.PerConnectionFifo ? new DispatchLane() : null;
    }

    public RpcConnectionOptions Options { get; }

    public override Task Completion => _completion.Task;

    public override Exception? CloseReason => Volatile.Read(ref _closeReason);

    public override RpcProtocol Protocol => RpcProtocol.JsonRpc;

    public override bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal JsonRpcEngine Rpc => _rpc;

    /// <summary>Gets a token that fires when the connection closes.</summary>
    internal CancellationToken ClosingToken => _closing.Token;

    /// <summary>Starts the span and duration of an incoming call, parented to the caller's <c>traceparent</c> if it sent one.</summary>
    /// <returns>The observation, or <see langword="null"/> when the method is not one of the served contracts'.</returns>
    internal CallObservation? StartServerObservation(JsonRpcRequest request) =>
        FindServedMethod(request.Method) is { } method ? CallObservation.StartServer(Telemetry, method, request.TraceParent, request.TraceState) : null;

    /// <summary>Records the server span of a request this side refuses before its method runs (see <see cref="CallObservation.RecordRefused"/>).</summary>
    internal void RecordRefused(JsonRpcRequest request, RpcErrorCode code, string message) =>
        CallObservation.RecordRefused(Telemetry, FindServedMethod(request.Method) ?? CallObservation.UnknownMethod, request.TraceParent, request.TraceState, code.ToString(), message);

    /// <summary>
    /// When someone listens, records a request for a method nobody serves here: StreamJsonRpc answers it -32601 itself,
    /// without dispatching it, so this is where it is seen (as it is read, before the answer leaves). The request is
    /// also kept until the next one is read, for <see cref="ObserveIfRefused"/>.
    /// </summary>
    internal void ObserveIfNotServed(JsonRpcMessage? message)
    {
        if (message is not JsonRpcRequest { Method: var method } request || !Telemetry.IsServerObserved)
        {
            return;
        }

        _lastRequestRead = request;
        if (method is null || (!method.StartsWith("$/", StringComparison.Ordinal) && method != KeepAlive.JsonRpcPingMethod && FindServedMethod(method) is null))
        {
            RecordRefused(request, RpcErrorCode.MethodNotFound, $"The method '{method}' is not served on this connection.");
        }
    }

    /// <summary>
    /// When someone listens, records the refusal of a request whose arguments StreamJsonRpc could not bind (-32602, sent
    /// without a dispatch): requests are handled inline on the read loop, so it is the last request read, whose id it
    /// carries (any other error, or an id that does not match, is not a refusal seen here).
    /// </summary>
    internal void ObserveIfRefused(JsonRpcError error)
    {
        if (error.Error?.Code == JsonRpcErrorCode.InvalidParams && Telemetry.IsServerObserved
            && _lastRequestRead is { } request && request.RequestId == error.RequestId)
        {
            RecordRefused(request, RpcErrorCode.InvalidArguments, error.Error.Message ?? "The arguments could not be read.");
        }
    }

    private RpcMethod? FindServedMethod(string? wireName)
    {
        RpcStub? stub;
        lock (_served)
        {
            _served.TryGetValue(wireName ?? string.Empty, out stub);
        }

        foreach (var method in stub?.Methods ?? [])
        {
            if (method.WireName == wireName)
            {
                return method;
            }
        }

        return null;
    }

    private object IncomingGate => _incoming;

    /// <summary>Creates the protocol over a transport (<see cref="JsonRpcProtocol.CreateConnection"/>).</summary>
    /// <param name="pipe">The transport.</param>
    /// <param name="options">The connection's settings.</param>
    /// <param name="abortTransport">Releases the transport when the connection closes.</param>
    /// <param name="keepAliveInterval">The resolved <see cref="RpcConnectionOptions.KeepAliveInterval"/>; infinite for none.</param>
    /// <returns>The protocol, not yet started.</returns>
    public static ProtocolConnection Create(IDuplexPipe pipe, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval) =>
        new JsonRpcProtocolConnection(pipe, options, abortTransport, keepAliveInterval);

    public override void AddStub(RpcStub stub)
    {
        ArgumentNullException.ThrowIfNull(stub);
        lock (_served)
        {
            if (Volatile.Read(ref _started) != 0)
            {
                throw new InvalidOperationException(
                    "A service cannot be added to a JSON-RPC connection after it has started: StreamJsonRpc needs every method before it " +
                    "starts listening. Add services before RpcConnection.Start (or in RpcConnection.ConnectAsync's configure callback, or " +
                    "RpcServer.AddService / ConnectionAccepted on the server).");
            }

            foreach (var method in stub.Methods)
            {
                if (_served.TryGetValue(method.WireName, out var existing) && !ReferenceEquals(existing, stub))
                {
                    throw new InvalidOperationException(
                        $"The method '{method.WireName}' cannot be served: '{method.WireName}' is already served on this connection with the same wire name.");
                }
            }

            foreach (var method in stub.Methods)
            {
                _served[method.WireName] = stub;
            }

            stub.AddDelegates(new DelegateRegistry(_rpc));
        }
    }

    public override void Start()
    {
        lock (_served)
        {
            if (Interlocked.Exchange(ref _started, 1) != 0)
            {
                throw new InvalidOperationException("The connection has already started.");
            }
        }

        if (!IsClosed)
        {
            _rpc.StartListening();
            _keepAlive?.Start();
        }
    }

    public override void CancelIncomingCalls()
    {
        List<CancellationTokenSource> sources;
        lock (IncomingGate)
        {
            sources = [.. _incoming.Values];
        }

        foreach (var source in sources)
        {
            CancelQuietly(source);
        }
    }

    public override void Abort(Exception? reason) => Close(reason ?? new ConnectionLostException("The connection was closed locally."));

    public override async ValueTask DisposeAsync()
    {
        Close(null);
        await _completion.Task.ConfigureAwait(false);
    }

    // ---- Caller side ----

    public override Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }

        if (IsClosed)
        {
            return Task.FromException<TResult>(Lost());
        }

        var timeout = RpcCallOptions.TimeoutOf(method, Options);
        var observation = Telemetry.IsClientObserved ? CallObservation.StartClient(Telemetry, method) : null;
        using var traced = observation is null ? default : observation.Enter();
        var call = timeout == Timeout.InfiniteTimeSpan
            ? CallAsync<TResult>(method.WireName, arguments.ToPositionalArray(), cancellationToken)
            : CallWithDeadlineAsync<TResult>(method, arguments.ToPositionalArray(), timeout, cancellationToken);
        return observation is null ? call : observation.EndWith(call);
    }

    public override Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        if (IsClosed)
        {
            return Task.FromException(Lost());
        }

        var timeout = RpcCallOptions.TimeoutOf(method, Options);
        var observation = Telemetry.IsClientObserved ? CallObservation.StartClient(Telemetry, method) : null;
        using var traced = observation is null ? default : observation.Enter();
        var call = timeout == Timeout.InfiniteTimeSpan
            ? CallAsync(method.WireName, arguments.ToPositionalArray(), cancellationToken)
            : CallWithDeadlineAsync<bool>(method, arguments.ToPositionalArray(), timeout, cancellationToken, hasResult: false);
        return observation is null ? call : observation.EndWith(call);
    }

    public override ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken) =>
        new(InvokeAsync(method, arguments, resultFormatter, cancellationToken));

    public override ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken) =>
        new(InvokeAsync(method, arguments, cancellationToken));

    public override void Notify<TArguments>(RpcMethod method, in TArguments arguments)
    {
        if (IsClosed)
        {
            return;
        }

        var observation = Telemetry.IsClientObserved ? CallObservation.StartClient(Telemetry, method) : null;
        try
        {
            using var traced = observation is null ? default : observation.Enter();
            var sent = _rpc.NotifyAsync(method.WireName, arguments.ToPositionalArray());
            if (observation is not null)
            {
                _ = observation.EndWith(sent);
            }

            if (!sent.IsCompletedSuccessfully)
            {
                Observe(sent);
            }
        }
        catch (Exception exception) when (exception is ObjectDisposedException or StreamJsonRpc.ConnectionLostException or OperationCanceledException || IsClosed)
        {
            // A notification promises no delivery: losing the connection while sending it is not reported.
        }
    }

    public override IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken) =>
        new JsonRpcStream<TItem>(this, method, arguments.ToPositionalArray(), cancellationToken);

    // ---- Serving side, called by JsonRpcEngine ----

    internal CancellationToken IncomingCallStarted(JsonRpcRequest request, CancellationToken methodToken)
    {
        if (!request.IsResponseExpected)
        {
            // A notification cannot be cancelled by its caller; only the connection's close stops it.
            IncomingCallAdmitted();
            return _closing.Token;
        }

        var source = CancellationTokenSource.CreateLinkedTokenSource(methodToken);
        bool duplicate;
        lock (IncomingGate)
        {
            duplicate = !_incoming.TryAdd(request.RequestId, source);
        }

        if (!duplicate)
        {
            IncomingCallAdmitted();
        }

        if (duplicate)
        {
            Abort(new RpcProtocolException($"The peer reused request id {request.RequestId} while that call is still running."));
            source.Cancel();
        }
        else if (IsClosed)
        {
            source.Cancel();
        }

        return source.Token;
    }

    /// <summary>
    /// Hands a call to the dispatcher. With the queue full, the call waits for a slot and reading stops meanwhile, so the
    /// connection holds at most this one call beyond the queue and the transport pushes back on the peer.
    /// </summary>
    /// <returns>The call's answer, once a worker has run it.</returns>
    internal ValueTask<JsonRpcMessage> Queue(RpcDispatcher dispatcher, QueuedJsonRpcCall call)
    {
        if (dispatcher.TryReserve())
        {
            dispatcher.Enqueue(call, _dispatchLane);
        }
        else
        {
            var reserved = dispatcher.ReserveAsync(CancellationToken.None);
            PauseReading(reserved);
            _ = QueueWhenReservedAsync(dispatcher, reserved, call);
        }

        return new ValueTask<JsonRpcMessage>(call.Answer);
    }

    internal bool IsIncomingCall(RequestId id)
    {
        lock (IncomingGate)
        {
            return _incoming.ContainsKey(id);
        }
    }

    /// <summary>Forgets a request's id as its response is about to be sent: from then on the peer may reuse it.</summary>
    /// <returns><see langword="false"/> when <paramref name="id"/> is not a request running here.</returns>
    internal bool TryRetireIncomingCallId(RequestId id)
    {
        lock (IncomingGate)
        {
            return _incoming.Remove(id);
        }
    }

    /// <summary>Counts a call retired by <see cref="TryRetireIncomingCallId"/> as finished, its response sent.</summary>
    internal void IncomingResponseSent() => IncomingCallAnswered();

    internal void IncomingCallEnded(RequestId id, bool isRequest)
    {
        lock (IncomingGate)
        {
            if (isRequest && !_incoming.Remove(id))
            {
                return;
            }
        }

        IncomingCallAnswered();
    }

    private async Task QueueWhenReservedAsync(RpcDispatcher dispatcher, Task reserved, QueuedJsonRpcCall call)
    {
        await reserved.ConfigureAwait(false);
        dispatcher.Enqueue(call, _dispatchLane);
    }

    // ---- Errors ----

    /// <summary>Turns whatever StreamJsonRpc threw for a call into what Rpc promises its callers.</summary>
    internal Exception Translate(Exception exception, CancellationToken cancellationToken)
    {
        // The caller's own cancellation wins over everything else, a concurrent connection loss included.
        if (cancellationToken.IsCancellationRequested)
        {
            return exception is OperationCanceledException canceled && canceled.CancellationToken == cancellationToken
                ? exception
                : new OperationCanceledException("The call was cancelled.", exception, cancellationToken);
        }

        switch (exception)
        {
            case RemoteMethodNotFoundException notFound:
                return new RemoteInvocationException((RpcErrorCode)(int)notFound.ErrorCode, string.Empty, notFound.Message, null);
            case RemoteSerializationException serialization:
                return new RemoteInvocationException(RpcErrorCode.ResultNotSerializable, string.Empty, serialization.Message, null);
            case StreamJsonRpc.RemoteInvocationException remote:
            {
                ReadErrorData(remote.DeserializedErrorData ?? remote.ErrorData, out var typeName, out var stackTrace);
                return new RemoteInvocationException((RpcErrorCode)remote.ErrorCode, typeName, remote.Message, stackTrace);
            }

            case StreamJsonRpc.ConnectionLostException:
            case ObjectDisposedException when IsClosed:
            case OperationCanceledException when IsClosed:
                return Lost();
            case RemoteRpcException other:
                return new RemoteInvocationException(RpcErrorCode.InvocationFailed, string.Empty, other.Message, null);
            case OperationCanceledException:
                // The server answered -32800 although this caller did not cancel: the server cancelled the call itself.
                return new RemoteInvocationException(RpcErrorCode.Cancelled, string.Empty, "The server cancelled the call.", null);
            case RpcException:
                return exception;
            case JsonException:
                return new RpcException($"The reply could not be read as the method's result type: {exception.Message}", exception);
            default:
                return IsClosed ? Lost() : exception;
        }
    }

    private static void ReadErrorData(object? data, out string typeName, out string? stackTrace)
    {
        typeName = string.Empty;
        stackTrace = null;
        switch (data)
        {
            case CommonErrorData common:
                typeName = common.TypeName ?? string.Empty;
                stackTrace = common.StackTrace;
                break;
            case JsonElement { ValueKind: JsonValueKind.Object } element:
                typeName = ReadOptionalString(element, "type") ?? string.Empty;
                stackTrace = ReadOptionalString(element, "stack");
                break;
        }
    }

    /// <summary>Reads an optional detail of a peer's error; one that is not a readable string is left out, not thrown.</summary>
    private static string? ReadOptionalString(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var property) || property.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return property.GetString();
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 inside the string: System.Text.Json validates string contents only when they are decoded.
            return null;
        }
    }

    private ConnectionLostException Lost()
    {
        var reason = CloseReason;
        return reason is ConnectionLostException lost
            ? new ConnectionLostException(lost.Message, lost.InnerException)
            : new ConnectionLostException(reason is null ? "The connection was closed." : $"The connection was lost: {reason.Message}", reason);
    }

    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async Task<T> CallAsync<T>(string wireName, object?[] arguments, CancellationToken cancellationToken)
    {
        Task<T> call;
        try
        {
            call = _rpc.InvokeWithCancellationAsync<T>(wireName, arguments, cancellationToken);
        }
        catch (Exception exception)
        {
            throw Translate(exception, cancellationToken);
        }

        T result;
        try
        {
            // StreamJsonRpc waits for the server to acknowledge a cancellation; Rpc's callers stop waiting at once.
            result = await (cancellationToken.CanBeCanceled ? call.WaitAsync(cancellationToken) : call).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Observe(call);
            throw Translate(exception, cancellationToken);
        }

        if (_yieldContinuations)
        {
            await Task.Yield();
        }

        return result;
    }

    private async Task CallAsync(string wireName, object?[] arguments, CancellationToken cancellationToken)
    {
        Task call;
        try
        {
            call = _rpc.InvokeWithCancellationAsync(wireName, arguments, cancellationToken);
        }
        catch (Exception exception)
        {
            throw Translate(exception, cancellationToken);
        }

        try
        {
            await (cancellationToken.CanBeCanceled ? call.WaitAsync(cancellationToken) : call).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Observe(call);
            throw Translate(exception, cancellationToken);
        }

        if (_yieldContinuations)
        {
            await Task.Yield();
        }
    }

    // ---- Keepalive ----

    /// <summary>
    /// Sends a keepalive ping: a request, since JSON-RPC has no frame of its own for it. Whatever comes back counts, an
    /// error from a peer that does not serve <see cref="KeepAlive.JsonRpcPingMethod"/> (-32601) included; so the outcome
    /// of the call itself is ignored.
    /// </summary>
    private void SendPing()
    {
        try
        {
            Observe(_rpc.InvokeAsync(KeepAlive.JsonRpcPingMethod));
        }
        catch (Exception exception) when (exception is ObjectDisposedException or StreamJsonRpc.ConnectionLostException || IsClosed)
        {
            // Closed meanwhile: nothing left to keep alive.
        }
    }

    private void OnKeepAliveTimeout(KeepAliveTimeoutException timeout) => Close(timeout);

    /// <summary>
    /// A call with a deadline: JSON-RPC carries no deadline to the peer, so it is enforced here, as a cancellation
    /// (StreamJsonRpc tells the peer with <c>$/cancelRequest</c>) that the caller sees as <see cref="RpcTimeoutException"/>.
    /// </summary>
    private async Task<T> CallWithDeadlineAsync<T>(RpcMethod method, object?[] arguments, TimeSpan timeout, CancellationToken cancellationToken, bool hasResult = true)
    {
        using var deadline = new CancellationTokenSource(timeout, Options.TimeProvider);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token) : null;
        var token = linked?.Token ?? deadline.Token;
        try
        {
            if (!hasResult)
            {
                await CallAsync(method.WireName, arguments, token).ConfigureAwait(false);
                return default!;
            }

            return await CallAsync<T>(method.WireName, arguments, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException exception) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw RpcCallOptions.DeadlineExceeded(method, exception);
        }
    }

    // ---- Closing ----

    private void OnViolation(RpcProtocolException violation) => Volatile.Write(ref _violation, violation);

    private void OnFrameTimeout(RpcProtocolException timeout)
    {
        OnViolation(timeout);
        Close(timeout);
    }

    private void OnDisconnected(object? sender, JsonRpcDisconnectedEventArgs e)
    {
        var violation = Volatile.Read(ref _violation);
        PeerHungUp = violation is null && !IsClosed && e.Reason == DisconnectedReason.RemotePartyTerminated;
        Exception? reason = violation ?? e.Reason switch
        {
            DisconnectedReason.LocallyDisposed => null,
            DisconnectedReason.RemotePartyTerminated => new ConnectionLostException("The peer closed the connection."),
            DisconnectedReason.ParseError or DisconnectedReason.RemoteProtocolViolation =>
                new RpcProtocolException($"The peer violated the JSON-RPC protocol: {e.Description}", e.Exception),
            DisconnectedReason.StreamError when e.Exception is System.IO.EndOfStreamException =>
                new ConnectionLostException("The peer closed the connection in the middle of a JSON-RPC message.", e.Exception),
            DisconnectedReason.StreamError when e.Exception is BadRpcHeaderException or JsonException =>
                new RpcProtocolException($"The peer sent a malformed JSON-RPC message: {e.Description}", e.Exception),
            DisconnectedReason.StreamError => new ConnectionLostException($"The connection was lost: {e.Description}", e.Exception),
            _ => new RpcException($"The JSON-RPC connection failed: {e.Description}", e.Exception),
        };
        Close(reason);
    }

    /// <summary>Closes once: fails every pending call, cancels every incoming call, releases the transport.</summary>
    private void Close(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _closeReason, reason);
        _frameDeadline?.Dispose();
        _keepAlive?.Dispose();
        CancelQuietly(_closing);

        // Pending calls fail with StreamJsonRpc's ConnectionLostException, which CallAsync translates using CloseReason.
        try
        {
            _rpc.Dispose();
        }
        catch (Exception)
        {
            // Disposal must not throw; the connection is closed either way.
        }

        _abortTransport(reason);

        // Only now: a method whose token fires may finish synchronously, and its "cancelled" answer must not reach a
        // peer that is to see the connection's loss.
        CancelIncomingCalls();
        ReleaseDrainWaiters();
        _ = FinishCloseAsync();
    }

    private async Task FinishCloseAsync()
    {
        if (Volatile.Read(ref _started) != 0)
        {
            try
            {
                await _rpc.Completion.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Completion faults when the connection failed; CloseReason already says why.
            }
        }

        _completion.TrySetResult();
    }

    private sealed class DelegateRegistry(JsonRpcEngine rpc) : IRpcDelegateRegistry
    {
        public void Add(RpcMethod method, Delegate handler)
        {
            ArgumentNullException.ThrowIfNull(method);
            rpc.AddLocalRpcMethod(method.WireName, handler);
        }
    }
}
