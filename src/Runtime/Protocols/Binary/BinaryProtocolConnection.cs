using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Connections;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>
/// Rpc's binary protocol over one duplex pipe: request correlation, cancellation, streaming and errors, for calls in
/// both directions.
/// </summary>
/// <remarks>
/// Designed for the transport's floor:
/// <list type="bullet">
/// <item>The receive loop runs on the transport's receive thread (the transports resume pipe readers inline) and
/// completes calls there: no thread-pool hop per call.</item>
/// <item>While the loop works through a batch of frames, replies and calls made by inline continuations are written
/// without flushing, then flushed once at the end of the batch: one send per batch instead of one per call.</item>
/// <item>Frames are assembled in a per-thread pooled buffer, so nothing is allocated per call beyond the caller's task,
/// and a failing serializer never leaves half a frame on the wire.</item>
/// </list>
/// </remarks>
internal sealed partial class BinaryProtocolConnection : ProtocolConnection
{
    private const int MaxBacklogBytes = 4 * 1024 * 1024;

    private readonly IDuplexPipe _transport;
    private readonly RpcConnectionOptions _options;
    private readonly Action<Exception?> _abortTransport;
    private readonly TaskCreationOptions _callTaskOptions;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Outgoing calls, by request id. Whoever removes an entry completes its call: reply, cancellation or close.
    private readonly Dictionary<uint, PendingEntry> _pending = [];
    private uint _lastRequestId;
    private bool _requestIdsWrapped;

    // Incoming calls that carry state: a cancellation source (created on demand) and, for streams, credits.
    private readonly Dictionary<uint, IncomingCall> _incoming = [];

    // What the stubs' RpcServerCall completes calls through.
    private readonly ServerCalls _serverCalls;

    // Copy-on-write, so the receive loop reads it without a lock.
    private volatile Dictionary<uint, RpcStub> _stubs = [];

    // The dispatcher queue slot taken for the next call frame (see ProcessFrames), and this connection's FIFO lane.
    private bool _dispatchSlotReserved;
    private readonly DispatchLane? _dispatchLane;

    // Null when RpcConnectionOptions.FrameTimeout is infinite.
    private readonly FrameDeadline? _frameDeadline;

    // Null when keepalive is off for this connection.
    private readonly KeepAlive? _keepAlive;
    private uint _lastPingId;

    // Bounds the wait for the peer's hello (TransportOptions.HandshakeTimeout); disposed once it arrived.
    private ITimer? _helloTimer;
    private ushort _peerVersion;
    private Task? _receiveLoop;
    private int _closed;
    private Exception? _closeReason;

    /// <param name="transport">The byte stream to the peer.</param>
    /// <param name="options">The connection's settings.</param>
    /// <param name="abortTransport">Releases the transport when the connection closes.</param>
    /// <param name="keepAliveInterval">The resolved <see cref="RpcConnectionOptions.KeepAliveInterval"/>; infinite for none.</param>
    public BinaryProtocolConnection(IDuplexPipe transport, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval)
    {
        _transport = transport;
        _serverCalls = new ServerCalls(this);
        _options = options;
        _abortTransport = abortTransport;
        _callTaskOptions = options.RunContinuationsAsynchronously ? TaskCreationOptions.RunContinuationsAsynchronously : TaskCreationOptions.None;
        _dispatchLane = options.Dispatcher?.Options.Ordering == RpcCallOrdering.PerConnectionFifo ? new DispatchLane() : null;
        _frameDeadline = FrameDeadline.Create(options.FrameTimeout, Close);
        _keepAlive = KeepAlive.Create(keepAliveInterval, options, SendPing, Close);

        // Written now, flushed by Start: the hello goes out before any frame, even one of a call made before Start.
        Span<byte> hello = stackalloc byte[ProtocolHello.Size];
        ProtocolHello.Write(hello);
        transport.Output.Write(hello);
    }

    public override Task Completion => _completion.Task;

    public override Exception? CloseReason => Volatile.Read(ref _closeReason);

    public override RpcProtocol Protocol => RpcProtocol.Binary;

    public override bool IsClosed => Volatile.Read(ref _closed) != 0;

    private object PendingGate => _pending;

    private object IncomingGate => _incoming;

    public override void AddStub(RpcStub stub)
    {
        lock (IncomingGate)
        {
            var stubs = new Dictionary<uint, RpcStub>(_stubs);
            foreach (var method in stub.Methods)
            {
                if (stubs.TryGetValue(method.Id, out var existing) && !ReferenceEquals(existing, stub))
                {
                    var clash = FindMethod(existing, method.Id)?.WireName;
                    throw new InvalidOperationException(
                        $"The method '{method.WireName}' cannot be served: '{clash}' is already served on this connection with the same " +
                        (clash == method.WireName ? "wire name." : "method id (an FNV-1a collision; rename one with [RpcMethod])."));
                }

                stubs[method.Id] = stub;
            }

            _stubs = stubs;
        }
    }

    public override void Start()
    {
        if (_receiveLoop is not null)
        {
            throw new InvalidOperationException("The connection has already started.");
        }

        var handshakeTimeout = _options.Transport.HandshakeTimeout;
        _helloTimer = _options.TimeProvider.CreateTimer(
            static state => ((BinaryProtocolConnection)state!).OnHelloTimeout(), this, handshakeTimeout, Timeout.InfiniteTimeSpan);
        _keepAlive?.Start();
        FlushWritten();
        _receiveLoop = ReceiveLoopAsync();
    }

    public override void CancelIncomingCalls()
    {
        List<CancellationTokenSource> sources;
        lock (IncomingGate)
        {
            sources = [];
            foreach (var call in _incoming.Values)
            {
                sources.Add(call.GetOrCreateCancellation());
            }
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
        if (_receiveLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
    }

    private static RpcMethod? FindMethod(RpcStub stub, uint id)
    {
        foreach (var method in stub.Methods)
        {
            if (method.Id == id)
            {
                return method;
            }
        }

        return null;
    }

    /// <summary>Closes the connection once: fails every pending call, cancels every incoming call, releases the transport.</summary>
    private void Close(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _closeReason, reason);
        _frameDeadline?.Dispose();
        _keepAlive?.Dispose();
        _helloTimer?.Dispose();
        List<PendingEntry> pending;
        lock (PendingGate)
        {
            pending = [.. _pending.Values];
            _pending.Clear();
        }

        var lost = reason as ConnectionLostException
            ?? new ConnectionLostException(
                reason is null ? "The connection was closed." : $"The connection was lost: {reason.Message}", reason);
        foreach (var entry in pending)
        {
            entry.Release();

            // The caller's own cancellation wins over a concurrent loss of the connection.
            if (entry.CallerToken.IsCancellationRequested)
            {
                entry.Call.Cancel(entry.CallerToken);
            }
            else
            {
                entry.Call.Fail(lost);
            }
        }

        CancelIncomingCalls();
        ReleaseDrainWaiters();
        lock (IncomingGate)
        {
            foreach (var call in _incoming.Values)
            {
                call.SignalFinished();
                call.Observation?.End(typeof(ConnectionLostException).FullName, "The connection closed before the reply was sent.");
            }

            if (_dispatchSlotReserved)
            {
                _dispatchSlotReserved = false;
                _options.Dispatcher?.Unreserve();
            }
        }

        ReleaseBacklogWaiters(lost);
        _transport.Input.CancelPendingRead();
        _abortTransport(reason);
        _completion.TrySetResult();
    }

    private readonly struct PendingEntry(IPendingReply call, RpcMethod method, RpcResultReader? reader, CancellationToken callerToken)
    {
        public IPendingReply Call { get; } = call;

        /// <summary>Gets the method called: the peer knows only its id, so an error naming it is made here.</summary>
        public RpcMethod Method { get; } = method;

        public RpcResultReader? Reader { get; } = reader;

        public CancellationToken CallerToken { get; } = callerToken;

        public CancellationTokenRegistration Registration { get; init; }

        /// <summary>Gets the timer of the call's deadline, if it has one.</summary>
        public ITimer? DeadlineTimer { get; init; }

        /// <summary>Stops watching the caller's token and the deadline once the call is taken off the pending calls.</summary>
        public void Release()
        {
            Registration.Unregister();
            DeadlineTimer?.Dispose();
        }
    }

    /// <summary>State of an incoming call that needs more than its id: a token, or stream credits.</summary>
    private sealed class IncomingCall
    {
        private CancellationTokenSource? _cancellation;
        private ITimer? _deadlineTimer;
        private volatile bool _deadlineExpired;

        public StreamCredits? Credits { get; set; }

        /// <summary>Gets or sets the call's span and duration, when someone listens.</summary>
        public CallObservation? Observation { get; set; }

        /// <summary>Gets or sets the id of the method called, kept on a logging connection so a failure's log names it.</summary>
        public uint MethodId { get; set; }

        public bool IsCancellationRequested => _cancellation?.IsCancellationRequested ?? false;

        private TaskCompletionSource? _finished;

        public CancellationTokenSource GetOrCreateCancellation() => _cancellation ??= new CancellationTokenSource();

        /// <summary>Gets the caller's deadline on this side's clock, or <see langword="null"/> when it sent none.</summary>
        public DateTimeOffset? Deadline { get; private set; }

        /// <summary>Gets whether the token fired because the deadline passed (rather than the caller cancelling).</summary>
        public bool DeadlineExpired => _deadlineExpired;

        /// <summary>Fires the call's token once <paramref name="remaining"/> has passed on <paramref name="clock"/>.</summary>
        public DateTimeOffset StartDeadline(TimeSpan remaining, TimeProvider clock)
        {
            var cancellation = GetOrCreateCancellation();
            Deadline = clock.GetUtcNow() + remaining;
            if (remaining <= TimeSpan.Zero)
            {
                _deadlineExpired = true;
                cancellation.Cancel();
                return Deadline.Value;
            }

            _deadlineTimer = clock.CreateTimer(
                static state =>
                {
                    var call = (IncomingCall)state!;
                    call._deadlineExpired = true;
                    CancelQuietly(call._cancellation!);
                },
                this,
                remaining,
                Timeout.InfiniteTimeSpan);
            return Deadline.Value;
        }

        /// <summary>Completes when the call's reply has been sent (or the connection closed).</summary>
        public Task WhenFinished() => (_finished ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public void Release()
        {
            _deadlineTimer?.Dispose();
            _cancellation?.Dispose();
            SignalFinished();
        }

        /// <summary>Lets a dispatcher worker waiting on this call move on; the call may still be running.</summary>
        public void SignalFinished() => _finished?.TrySetResult();
    }
}
