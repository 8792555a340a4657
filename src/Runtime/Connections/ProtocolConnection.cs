using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Connections;

/// <summary>
/// One protocol spoken over one transport connection: the invoker proxies call into, and the host of the stubs the
/// peer calls. <see cref="RpcConnection"/> and <see cref="RpcServer"/> see only this, never the protocol's frames.
/// </summary>
internal abstract class ProtocolConnection : IRpcInvoker, IAsyncDisposable
{
    /// <summary>Gets a task that completes (never faults) once the connection is closed and every pending call failed.</summary>
    public abstract Task Completion { get; }

    /// <summary>Gets why the connection closed abnormally, or <see langword="null"/> while open or after a clean close.</summary>
    public abstract Exception? CloseReason { get; }

    /// <summary>Gets whether the connection is closed or closing.</summary>
    public abstract bool IsClosed { get; }

    /// <summary>
    /// Gets whether the peer ended the connection between messages (it closed or its process ended; the transport cannot
    /// tell which), rather than a failure, a violation or a local close.
    /// </summary>
    public bool PeerHungUp { get; protected set; }

    /// <summary>Gets the logger of this connection's events, or <see langword="null"/> when logging is off.</summary>
    protected ILogger? Logger { get; private set; }

    /// <summary>Gets whether this connection logs (for tests: without a logger factory, nothing is set up for logging).</summary>
    internal bool IsLogging => Logger is not null;

    /// <summary>Gets the peer, as the transport describes it (for log messages).</summary>
    protected string RemoteEndpoint { get; private set; } = string.Empty;

    /// <summary>Gets or sets what this connection adds to its calls' metrics and spans; set before <see cref="Start"/>.</summary>
    public ConnectionTelemetry Telemetry { get; set; } = ConnectionTelemetry.Unobserved;

    private readonly object _drainGate = new();
    private int _incomingInFlight;
    private TaskCompletionSource? _incomingDrained;
    private volatile bool _rejectNewCalls;
    private Task? _readPause;
    private Task? _lastReadPause;

    /// <summary>Gets how many incoming calls are running (admitted and not yet answered).</summary>
    public int IncomingCallsInFlight => Volatile.Read(ref _incomingInFlight);

    /// <summary>Gets whether new incoming calls are answered with <see cref="RpcErrorCode.ServerShuttingDown"/>.</summary>
    public bool IsRejectingNewCalls => _rejectNewCalls;

    /// <summary>Gets the protocol spoken: connections of one protocol share the messages it prepares.</summary>
    public abstract RpcProtocol Protocol { get; }

    /// <summary>Serves a stub's methods to the peer.</summary>
    public abstract void AddStub(RpcStub stub);

    /// <summary>Logs this connection's own events (failing methods) to <paramref name="logger"/>; called once, before any stub is added.</summary>
    internal void EnableLogging(ILogger logger, string remoteEndpoint)
    {
        Logger = logger;
        RemoteEndpoint = remoteEndpoint;
    }

    /// <summary>Starts reading from the transport.</summary>
    public abstract void Start();

    /// <summary>From now on, answers new incoming calls with <see cref="RpcErrorCode.ServerShuttingDown"/>.</summary>
    public void RejectNewCalls() => _rejectNewCalls = true;

    /// <summary>Completes when no incoming call is running, or the connection has closed.</summary>
    public Task WhenIncomingCallsDrainedAsync(CancellationToken cancellationToken)
    {
        lock (_drainGate)
        {
            if (_incomingInFlight == 0 || IsClosed)
            {
                return Task.CompletedTask;
            }

            _incomingDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _incomingDrained.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Fires the cancellation token of every running incoming call.</summary>
    public abstract void CancelIncomingCalls();

    /// <summary>
    /// Reads nothing more from the peer until <paramref name="until"/> completes (however it completes): back-pressure for
    /// a service that must make a call wait for room, such as the work-queue hub with a full queue. The transport's
    /// buffers then fill and the peer's sends slow down, instead of waiting calls piling up here.
    /// </summary>
    /// <remarks>
    /// Only the newest pause is kept: the pauses come from one FIFO wait, so the newest ends last. While paused, nothing
    /// the peer sends is read, including replies to calls made to it: a service must not pause a connection whose
    /// peer it is waiting on.
    /// </remarks>
    public void PauseReading(Task until)
    {
        Volatile.Write(ref _lastReadPause, until);

        // From a dispatcher's worker thread, the receive loop sees it after its current frame.
        Volatile.Write(ref _readPause, until);
    }

    /// <summary>Gets whether a read pause waits to be taken by <see cref="TakeReadPause"/>.</summary>
    protected bool IsReadPauseRequested => Volatile.Read(ref _readPause) is not null;

    /// <summary>
    /// Gets whether the receive loop is held by a read pause: the last one asked for has been taken and has not ended, so
    /// nothing is read now (for tests; kept off the receive loop's own path).
    /// </summary>
    internal bool IsReadingPaused => Volatile.Read(ref _readPause) is null && Volatile.Read(ref _lastReadPause) is { IsCompleted: false };

    /// <summary>Takes the pending read pause, if any: the receive loop awaits it before its next read.</summary>
    internal Task? TakeReadPause() => Interlocked.Exchange(ref _readPause, null);

    /// <summary>
    /// Prepares a notification once for every connection of this <see cref="Protocol"/>, to be sent to each with
    /// <see cref="SendPrepared"/> (a group's fan-out). By default the message keeps the arguments and each connection
    /// serializes them itself; a protocol whose bytes do not depend on the connection serializes them here, once.
    /// </summary>
    /// <returns>The message, holding one reference for the caller.</returns>
    public virtual PreparedMessage PrepareNotification<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments> =>
        new DeferredNotification<TArguments>(Protocol, method, arguments);

    /// <summary>
    /// Sends messages prepared by a connection of this <see cref="Protocol"/>, in order, through this connection's write path.
    /// </summary>
    /// <param name="messages">The messages; the caller keeps its references.</param>
    /// <param name="handedOver">Counts the messages handed to the connection, also when a send throws.</param>
    /// <returns>A task pending only while the connection's backlog is over its limit: await it before sending more.</returns>
    /// <exception cref="ConnectionLostException">The connection is closed.</exception>
    public virtual ValueTask SendPrepared(ReadOnlySpan<PreparedMessage> messages, ref int handedOver)
    {
        foreach (var message in messages)
        {
            ((DeferredNotification)message).SendTo(this);
            handedOver++;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Closes at once; pending outgoing calls fail with <see cref="ConnectionLostException"/>.</summary>
    public abstract void Abort(Exception? reason);

    public abstract ValueTask DisposeAsync();

    /// <summary>Logs an incoming call whose method threw (nothing when logging is off).</summary>
    /// <param name="method">The method's wire name.</param>
    /// <param name="isNotification">Whether the call was a notification, whose error reaches no caller.</param>
    /// <param name="exception">What the method threw.</param>
    internal void LogMethodFailed(string method, bool isNotification, Exception exception)
    {
        if (Logger is not { } logger)
        {
            return;
        }

        if (isNotification)
        {
            RpcLog.NotificationFailed(logger, method, RemoteEndpoint, exception);
        }
        else
        {
            RpcLog.MethodFailed(logger, method, RemoteEndpoint, exception);
        }
    }

    /// <summary>Counts an admitted incoming call.</summary>
    protected void IncomingCallAdmitted()
    {
        lock (_drainGate)
        {
            _incomingInFlight++;
        }
    }

    /// <summary>Uncounts an answered incoming call; the last one wakes whoever waits for the drain.</summary>
    protected void IncomingCallAnswered()
    {
        TaskCompletionSource? drained = null;
        lock (_drainGate)
        {
            if (--_incomingInFlight == 0)
            {
                (drained, _incomingDrained) = (_incomingDrained, null);
            }
        }

        drained?.TrySetResult();
    }

    /// <summary>Wakes drain waiters when the connection closes: no call will be answered any more.</summary>
    protected void ReleaseDrainWaiters()
    {
        TaskCompletionSource? drained;
        lock (_drainGate)
        {
            (drained, _incomingDrained) = (_incomingDrained, null);
        }

        drained?.TrySetResult();
    }

    /// <summary>Fires a call's token, ignoring a source released meanwhile or a callback of the implementation that throws.</summary>
    protected static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call finished and released its source meanwhile.
        }
        catch (AggregateException)
        {
            // A callback registered by the implementation threw; that is the implementation's concern, not the connection's.
        }
    }

    public abstract Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;
}
