using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
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

    /// <summary>Gets the protocol's <c>rpc.system</c> in metrics and spans.</summary>
    public abstract string RpcSystem { get; }

    /// <summary>Gets or sets what this connection adds to its calls' metrics and spans; set before <see cref="Start"/>.</summary>
    public ConnectionTelemetry Telemetry { get; set; } = ConnectionTelemetry.Unobserved;

    private readonly object _drainGate = new();
    private int _incomingInFlight;
    private TaskCompletionSource? _incomingDrained;
    private volatile bool _rejectNewCalls;
    private Task? _readPause;
    private Task? _lastReadPause;

    // The connection whose incoming call runs on this thread: services that queue work reach their caller's connection
    // through it without a context parameter in every generated signature (set only around a stub's synchronous part).
    [ThreadStatic]
    private static ProtocolConnection? t_dispatching;

    /// <summary>Gets how many incoming calls are running (admitted and not yet answered).</summary>
    public int IncomingCallsInFlight => Volatile.Read(ref _incomingInFlight);

    /// <summary>Gets whether new incoming calls are answered with <see cref="RpcErrorCode.ServerShuttingDown"/>.</summary>
    public bool IsRejectingNewCalls => _rejectNewCalls;

    /// <summary>Serves a stub's methods to the peer.</summary>
    public abstract void AddStub(RpcStub stub);

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
    /// Asks the connection whose incoming call is being dispatched on this thread to read nothing more from its peer
    /// until <paramref name="until"/> completes (however it completes): back-pressure for a service that must make a
    /// call wait for room, such as the work-queue hub with a full queue. The transport's buffers then fill and the
    /// peer's sends slow down, instead of waiting calls piling up here.
    /// </summary>
    /// <returns><see langword="false"/> when no incoming call is being dispatched on this thread (an in-process caller).</returns>
    /// <remarks>
    /// Only the newest pause is kept: the pauses come from one FIFO wait, so the newest ends last. While paused, nothing
    /// the peer sends is read, including replies to calls made to it: a service must not pause a connection whose
    /// peer it is waiting on.
    /// </remarks>
    public static bool PauseReadingOfDispatchingConnection(Task until)
    {
        if (t_dispatching is not { } connection)
        {
            return false;
        }

        connection.PauseReading(until);
        return true;
    }

    /// <summary>Reads nothing more from the peer until <paramref name="until"/> completes (see <see cref="PauseReadingOfDispatchingConnection"/>).</summary>
    protected void PauseReading(Task until)
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

    /// <summary>Marks this connection as the one whose incoming call runs on this thread, until the scope is disposed.</summary>
    internal DispatchScope EnterDispatch() => new(this);

    /// <summary>Closes at once; pending outgoing calls fail with <see cref="ConnectionLostException"/>.</summary>
    public abstract void Abort(Exception? reason);

    public abstract ValueTask DisposeAsync();

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

    /// <summary>Restores the thread's previous dispatching connection (calls may nest: a stub calling in-process code that dispatches).</summary>
    internal readonly ref struct DispatchScope
    {
        private readonly ProtocolConnection? _previous;

        public DispatchScope(ProtocolConnection connection)
        {
            _previous = t_dispatching;
            t_dispatching = connection;
        }

        public void Dispose() => t_dispatching = _previous;
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
