using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>The caller's side: what generated proxies call.</summary>
internal sealed partial class BinaryProtocolConnection
{
    public override Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }

        var call = new TaskCall<TResult>(_callTaskOptions);
        var sent = Send(method, FrameKind.Request, arguments, call, resultFormatter, cancellationToken);
        return sent.IsCompletedSuccessfully ? call.Task : AfterSendAsync(sent, call.Task);
    }

    public override Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        var call = new TaskCall(_callTaskOptions);
        var sent = Send(method, FrameKind.Request, arguments, call, reader: null, cancellationToken);
        return sent.IsCompletedSuccessfully ? call.Task : AfterSendAsync(sent, call.Task);
    }

    public override ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        var call = ValueTaskCall<TResult>.Rent(_options.RunContinuationsAsynchronously);
        var sent = Send(method, FrameKind.Request, arguments, call, resultFormatter, cancellationToken);
        return sent.IsCompletedSuccessfully ? call.AsValueTask() : new ValueTask<TResult>(AfterSendAsync(sent, call.AsValueTask().AsTask()));
    }

    public override ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var call = ValueTaskCall<bool>.Rent(_options.RunContinuationsAsynchronously);
        var sent = Send(method, FrameKind.Request, arguments, call, reader: null, cancellationToken);
        return sent.IsCompletedSuccessfully ? call.AsVoidValueTask() : new ValueTask(AfterSendAsync(sent, call.AsVoidValueTask().AsTask()));
    }

    public override void Notify<TArguments>(RpcMethod method, in TArguments arguments)
    {
        if (IsClosed)
        {
            return;
        }

        var observation = Telemetry.IsClientObserved ? CallObservation.StartClient(Telemetry, method) : null;
        try
        {
            // A notification promises no delivery, so a slow transport is not waited for.
            PostFrame(FrameKind.Notification, 0, method.Id, HeaderFor(Timeout.InfiniteTimeSpan, observation), new ArgumentsPayload<TArguments>(arguments));
            observation?.End(errorType: null);
        }
        catch (ConnectionLostException exception)
        {
            // Lost while sending: the same as lost after sending, which a notification never reports.
            observation?.End(exception);
        }
        catch (Exception exception) when (observation is not null)
        {
            observation.End(exception);
            throw;
        }
    }

    public override IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken) =>
        new OutgoingStream<TArguments, TItem>(this, method, arguments, itemFormatter, cancellationToken);

    /// <summary>Removes a pending call if it is still there; the caller then owns completing it.</summary>
    internal bool TryRemovePending(uint id)
    {
        lock (PendingGate)
        {
            if (_pending.Remove(id, out var entry))
            {
                entry.Release();
                return true;
            }

            return false;
        }
    }

    internal void SendStreamCredit(uint id, int items)
    {
        try
        {
            PostFrame(FrameKind.StreamCredit, id, 0, new CreditPayload(items));
        }
        catch (RpcException)
        {
            // Closed: the stream is failed by the close itself.
        }
    }

    /// <summary>
    /// The consumer stopped enumerating before the end: forget the stream and tell the peer to stop producing. Its span
    /// and duration end as a cancelled call's.
    /// </summary>
    internal void AbandonStream(uint id) => OnCallerCancelled(id, CancellationToken.None);

    /// <summary>Sends the request of a stream once its enumeration starts, then grants the first window.</summary>
    internal StreamReceiver<TItem> StartStream<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken methodToken, CancellationToken enumeratorToken)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var timeout = RpcCallOptions.TimeoutOf(method, _options);
        var receiver = new StreamReceiver<TItem>(this, _options.StreamWindow, methodToken, enumeratorToken);
        IPendingReply call = receiver;
        CallObservation? observation = null;
        if (Telemetry.IsClientObserved)
        {
            observation = CallObservation.StartClient(Telemetry, method);
            call = itemFormatter.Observe(receiver, observation, isStream: true);
        }

        uint id;
        try
        {
            id = AddPending(new PendingEntry(call, method, itemFormatter, default));
        }
        catch (ConnectionLostException exception)
        {
            call.Fail(exception);
            return receiver;
        }

        receiver.Start(id);
        if (timeout != Timeout.InfiniteTimeSpan && !StartDeadline(id, timeout))
        {
            return receiver;
        }

        try
        {
            PostFrame(FrameKind.StreamRequest, id, method.Id, HeaderFor(timeout, observation), new ArgumentsPayload<TArguments>(arguments));
            PostFrame(FrameKind.StreamCredit, id, 0, new CreditPayload(_options.StreamWindow));
        }
        catch (Exception exception)
        {
            if (TryRemovePending(id))
            {
                call.Fail(exception);
            }
        }

        return receiver;
    }

    /// <summary>
    /// The peer knows only the method id it could not find; the caller knows the method, so the error it sees names it
    /// (typically the peer was built with an older contract, without this method).
    /// </summary>
    private static RemoteInvocationException NameUnknownMethod(RemoteInvocationException error, RpcMethod method) =>
        new(RpcErrorCode.MethodNotFound, error.RemoteTypeName, $"The peer does not serve the method '{method.WireName}': {error.Message}", error.RemoteStackTrace);

    private static async Task<T> AfterSendAsync<T>(ValueTask sent, Task<T> reply)
    {
        await sent.ConfigureAwait(false);
        return await reply.ConfigureAwait(false);
    }

    private static async Task AfterSendAsync(ValueTask sent, Task reply)
    {
        await sent.ConfigureAwait(false);
        await reply.ConfigureAwait(false);
    }

    /// <summary>
    /// Registers the call, then sends it: the reply can arrive on the receive thread before the send returns.
    /// Any failure to send completes the call (the returned task stays the caller's only signal).
    /// </summary>
    private ValueTask Send<TArguments>(RpcMethod method, FrameKind kind, in TArguments arguments, IPendingReply call, RpcResultReader? reader, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var timeout = RpcCallOptions.TimeoutOf(method, _options);
        CallObservation? observation = null;
        if (Telemetry.IsClientObserved)
        {
            observation = CallObservation.StartClient(Telemetry, method);
            call = reader is null ? new ObservedReply(call, observation) : reader.Observe(call, observation, isStream: false);
        }

        uint id;
        try
        {
            id = AddPending(new PendingEntry(call, method, reader, cancellationToken));
        }
        catch (ConnectionLostException exception)
        {
            call.Fail(exception);
            return default;
        }

        if (cancellationToken.CanBeCanceled)
        {
            RegisterCancellation(id, cancellationToken);
        }

        if (timeout != Timeout.InfiniteTimeSpan && !StartDeadline(id, timeout))
        {
            return default;
        }

        try
        {
            return SendFrame(kind, id, method.Id, HeaderFor(timeout, observation), new ArgumentsPayload<TArguments>(arguments));
        }
        catch (Exception exception)
        {
            if (TryRemovePending(id))
            {
                call.Fail(exception);
            }

            return default;
        }
    }

    /// <summary>Assigns the next request id and registers the call under it.</summary>
    /// <exception cref="ConnectionLostException">The connection is closed.</exception>
    private uint AddPending(PendingEntry entry)
    {
        lock (PendingGate)
        {
            ThrowIfClosed();
            if (++_lastRequestId == 0)
            {
                _requestIdsWrapped = true;
                _lastRequestId = 1;
            }

            _pending.Add(_lastRequestId, entry);
            return _lastRequestId;
        }
    }

    private void RegisterCancellation(uint id, CancellationToken cancellationToken)
    {
        var registration = cancellationToken.UnsafeRegister(
            static (state, token) =>
            {
                var (connection, id) = ((BinaryProtocolConnection, uint))state!;
                connection.OnCallerCancelled(id, token);
            },
            (this, id));
        lock (PendingGate)
        {
            if (_pending.TryGetValue(id, out var entry))
            {
                _pending[id] = entry with { Registration = registration };
                return;
            }
        }

        // Already completed (or cancelled during registration): the registration has nothing left to guard.
        registration.Unregister();
    }

    /// <summary>Completes a call as cancelled, if it is still pending, and tells the peer.</summary>
    internal void OnCallerCancelled(uint id, CancellationToken cancellationToken)
    {
        PendingEntry entry;
        lock (PendingGate)
        {
            if (!_pending.Remove(id, out entry))
            {
                return;
            }
        }

        entry.Release();
        entry.Call.Cancel(cancellationToken);
        SendCancelQuietly(id);
    }

    /// <summary>The header of a call: none unless it has a deadline or its span is recorded (then it carries the trace context).</summary>
    private static RequestHeader HeaderFor(TimeSpan timeout, CallObservation? observation)
    {
        TimeSpan? deadline = timeout == Timeout.InfiniteTimeSpan ? null : timeout;
        return observation?.Activity is { IdFormat: ActivityIdFormat.W3C } activity
            ? new RequestHeader(deadline, activity)
            : deadline is null ? default : new RequestHeader(deadline);
    }

    /// <summary>Arms the deadline of a registered call (a timer on the connection's clock).</summary>
    /// <returns><see langword="false"/> when the call already ended (its deadline passed): it must not be sent.</returns>
    private bool StartDeadline(uint id, TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            OnDeadlineExceeded(id, peerKnowsCall: false);
            return false;
        }

        var timer = _options.TimeProvider.CreateTimer(
            static state =>
            {
                var (connection, id) = ((BinaryProtocolConnection, uint))state!;
                connection.OnDeadlineExceeded(id, peerKnowsCall: true);
            },
            (this, id),
            timeout,
            Timeout.InfiniteTimeSpan);
        lock (PendingGate)
        {
            if (_pending.TryGetValue(id, out var entry))
            {
                _pending[id] = entry with { DeadlineTimer = timer };
                return true;
            }
        }

        // Timed out (or cancelled, or closed) before it was sent: nothing to send, nothing left to guard.
        timer.Dispose();
        return false;
    }

    private void OnDeadlineExceeded(uint id, bool peerKnowsCall)
    {
        PendingEntry entry;
        lock (PendingGate)
        {
            if (!_pending.Remove(id, out entry))
            {
                return;
            }
        }

        entry.Release();
        entry.Call.Fail(RpcCallOptions.DeadlineExceeded(entry.Method, innerException: null));
        if (peerKnowsCall)
        {
            SendCancelQuietly(id);
        }
    }

    private void SendCancelQuietly(uint id)
    {
        try
        {
            PostFrame(FrameKind.Cancel, id, 0, default(EmptyPayload));
        }
        catch (RpcException)
        {
            // Closed: the peer's call is cancelled by the close itself.
        }
    }

    /// <summary>The stream a streaming proxy method returns; each enumeration is one call.</summary>
    private sealed class OutgoingStream<TArguments, TItem>(
        BinaryProtocolConnection connection, RpcMethod method, TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken methodToken)
        : IAsyncEnumerable<TItem>
        where TArguments : struct, IRpcArguments<TArguments>
    {
        public IAsyncEnumerator<TItem> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            if (methodToken.IsCancellationRequested || cancellationToken.IsCancellationRequested)
            {
                return new FailedEnumerator<TItem>(new OperationCanceledException(methodToken.IsCancellationRequested ? methodToken : cancellationToken));
            }

            return connection.StartStream(method, arguments, itemFormatter, methodToken, cancellationToken);
        }
    }

    private sealed class FailedEnumerator<TItem>(Exception error) : IAsyncEnumerator<TItem>
    {
        public TItem Current => default!;

        public ValueTask<bool> MoveNextAsync() => ValueTask.FromException<bool>(error);

        public ValueTask DisposeAsync() => default;
    }
}
