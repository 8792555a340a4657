using System;
using System.Buffers;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>The serving side: incoming calls dispatched to stubs, and their replies.</summary>
internal sealed partial class BinaryProtocolConnection
{
    /// <summary>Gets how many streams this side serves are held because the caller granted no more credit (for tests).</summary>
    internal int StreamsWaitingForCredit
    {
        get
        {
            lock (IncomingGate)
            {
                var waiting = 0;
                foreach (var call in _incoming.Values)
                {
                    if (call.Credits?.IsWaiting == true)
                    {
                        waiting++;
                    }
                }

                return waiting;
            }
        }
    }

    internal CancellationToken GetServerCallToken(uint id, FrameKind kind)
    {
        if (kind == FrameKind.Notification)
        {
            // A notification cannot be cancelled by its caller; only the connection's close stops it.
            return IsClosed ? new CancellationToken(canceled: true) : CancellationToken.None;
        }

        lock (IncomingGate)
        {
            var source = IncomingCallFor(id).GetOrCreateCancellation();
            if (IsClosed)
            {
                source.Cancel();
            }

            return source.Token;
        }
    }

    internal void CompleteServerCall(uint id, FrameKind kind, Task task)
    {
        if (RejectIfStream(id, kind, task))
        {
            return;
        }

        if (task.IsCompletedSuccessfully)
        {
            FinishIncoming(id, kind, default(EmptyPayload));
        }
        else
        {
            _ = ReplyWhenDoneAsync(id, kind, task);
        }
    }

    internal void CompleteServerCall(uint id, FrameKind kind, ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            task.GetAwaiter().GetResult();
            CompleteServerCall(id, kind, Task.CompletedTask);
        }
        else
        {
            CompleteServerCall(id, kind, task.AsTask());
        }
    }

    internal void CompleteServerCall<TResult>(uint id, FrameKind kind, Task<TResult> task, RpcFormatter<TResult> formatter)
    {
        if (RejectIfStream(id, kind, task))
        {
            return;
        }

        if (task.IsCompletedSuccessfully)
        {
            ReplyWithResult(id, kind, task.Result, formatter);
        }
        else
        {
            _ = ReplyWhenDoneAsync(id, kind, task, formatter);
        }
    }

    internal void CompleteServerCall<TResult>(uint id, FrameKind kind, ValueTask<TResult> task, RpcFormatter<TResult> formatter)
    {
        if (task.IsCompletedSuccessfully)
        {
            if (!RejectIfStream(id, kind, Task.CompletedTask))
            {
                ReplyWithResult(id, kind, task.Result, formatter);
            }
        }
        else
        {
            CompleteServerCall(id, kind, task.AsTask(), formatter);
        }
    }

    internal void CompleteServerStream<TItem>(uint id, FrameKind kind, IAsyncEnumerable<TItem> items, RpcFormatter<TItem> formatter)
    {
        if (kind != FrameKind.StreamRequest)
        {
            _ = DisposeUnstartedAsync(items);
            FinishIncoming(id, kind, new ErrorPayload(RpcErrorCode.InvalidRequest, string.Empty, "The method returns a stream; it must be called as a stream.", null));
            return;
        }

        StreamCredits credits;
        CancellationToken token;
        lock (IncomingGate)
        {
            var call = IncomingCallFor(id);
            credits = call.Credits ??= new StreamCredits();
            token = call.GetOrCreateCancellation().Token;
        }

        _ = SendStreamAsync(id, items, formatter, credits, token);
    }

    internal void CompleteMethodNotFound(uint id, FrameKind kind) =>
        Refuse(id, kind, CallObservation.UnknownMethod, default, new ErrorPayload(RpcErrorCode.MethodNotFound, string.Empty, "The stub serving this method id has no such method.", null));

    private void OnIncomingCall(FrameKind kind, uint id, uint methodId, in RequestHeader requestHeader, ReadOnlySequence<byte> payload)
    {
        DateTimeOffset? deadline = null;
        if (kind != FrameKind.Notification)
        {
            if (id == 0)
            {
                throw new RpcProtocolException("The peer sent a call with request id 0, which is reserved for notifications.");
            }

            lock (IncomingGate)
            {
                if (_incoming.ContainsKey(id))
                {
                    throw new RpcProtocolException($"The peer reused request id {id} while that call is still running.");
                }
            }

            IncomingCallAdmitted();
            if (IsRejectingNewCalls)
            {
                _options.Dispatcher?.RecordRejected("shutting_down");
                RefuseAtShutdown(id, kind, methodId, requestHeader);
                return;
            }

            // A notification has no reply to be late for: its deadline, if a peer sent one, is ignored.
            if (requestHeader.Deadline is { } remaining)
            {
                deadline = StartIncomingDeadline(id, remaining);
            }
        }
        else if (IsRejectingNewCalls)
        {
            RefuseAtShutdown(id, kind, methodId, requestHeader);
            return;
        }

        if (!_stubs.TryGetValue(methodId, out var stub))
        {
            _options.Dispatcher?.RecordRejected("method_not_found");
            Refuse(id, kind, CallObservation.UnknownMethod, requestHeader, new ErrorPayload(RpcErrorCode.MethodNotFound, string.Empty, $"No method with id 0x{methodId:X8} is served on this connection (the peer's contract differs from ours).", null));
            return;
        }

        if (Logger is not null && kind != FrameKind.Notification)
        {
            // Only a logging connection pays for knowing which method a request runs.
            lock (IncomingGate)
            {
                IncomingCallFor(id).MethodId = methodId;
            }
        }

        var observation = Telemetry.IsServerObserved ? StartServerObservation(stub, kind, id, methodId, requestHeader) : null;
        if (_options.Dispatcher is { } dispatcher)
        {
            // ProcessFrames reserved the queue slot before it took this frame off the transport.
            _dispatchSlotReserved = false;
            dispatcher.Enqueue(new QueuedCall(this, stub, kind, id, methodId, payload, observation), _dispatchLane);
            return;
        }

        Invoke(stub, kind, id, methodId, payload, deadline, observation);
    }

    private void RefuseAtShutdown(uint id, FrameKind kind, uint methodId, in RequestHeader requestHeader)
    {
        var method = _stubs.TryGetValue(methodId, out var stub) ? FindMethod(stub, methodId) : null;
        Refuse(id, kind, method ?? CallObservation.UnknownMethod, requestHeader, new ErrorPayload(RpcErrorCode.ServerShuttingDown, string.Empty, "The server is shutting down and accepts no new calls.", null));
    }

    /// <summary>Answers a call its method never sees with <paramref name="error"/>; its server span says why, so an operator sees it.</summary>
    private void Refuse(uint id, FrameKind kind, RpcMethod method, in RequestHeader requestHeader, in ErrorPayload error)
    {
        if (Telemetry.IsServerObserved)
        {
            CallObservation.RecordRefused(Telemetry, method, requestHeader.TraceParent, requestHeader.TraceState, error.Code.ToString(), error.Message);
        }

        FinishIncoming(id, kind, error);
    }

    /// <summary>
    /// Starts the span and duration of an incoming call, parented to the caller's span when its header carried one.
    /// A request's observation is kept with the call until its reply (<see cref="FinishIncoming"/>); a notification's
    /// ends when its method returns.
    /// </summary>
    private CallObservation? StartServerObservation(RpcStub stub, FrameKind kind, uint id, uint methodId, in RequestHeader requestHeader)
    {
        if (FindMethod(stub, methodId) is not { } method)
        {
            return null;
        }

        var observation = CallObservation.StartServer(Telemetry, method, requestHeader.TraceParent, requestHeader.TraceState);
        if (kind != FrameKind.Notification)
        {
            lock (IncomingGate)
            {
                IncomingCallFor(id).Observation = observation;
            }
        }

        return observation;
    }

    /// <summary>Gets the state of incoming call <paramref name="id"/>, made on first need. The caller holds <see cref="IncomingGate"/>.</summary>
    private IncomingCall IncomingCallFor(uint id)
    {
        if (!_incoming.TryGetValue(id, out var call))
        {
            call = new IncomingCall();
            _incoming.Add(id, call);
        }

        return call;
    }

    /// <summary>Makes the call's token fire when the caller's deadline passes (time spent queued counts).</summary>
    /// <returns>The deadline, for propagation.</returns>
    private DateTimeOffset StartIncomingDeadline(uint id, TimeSpan remaining)
    {
        lock (IncomingGate)
        {
            var call = new IncomingCall();
            _incoming.Add(id, call);
            return call.StartDeadline(remaining, _options.TimeProvider);
        }
    }

    /// <summary>Runs a call a dispatcher worker took from the queue; completes when its reply has been sent.</summary>
    internal async Task RunQueuedCallAsync(QueuedCall call)
    {
        try
        {
            Task finished = Task.CompletedTask;
            DateTimeOffset? deadline = null;
            if (call.Kind != FrameKind.Notification)
            {
                lock (IncomingGate)
                {
                    var state = IncomingCallFor(call.Id);
                    finished = state.WhenFinished();
                    deadline = state.Deadline;
                }
            }

            if (IsClosed)
            {
                FinishIncoming(call.Id, call.Kind, default(EmptyPayload));
                return;
            }

            Invoke(call.Stub, call.Kind, call.Id, call.MethodId, call.Payload, deadline, call.Observation);
            call.ReleasePayload();
            await finished.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Close(new RpcException($"A queued call could not be run: {exception.Message}", exception));
        }
        finally
        {
            call.ReleasePayload();
        }
    }

    private void Invoke(RpcStub stub, FrameKind kind, uint id, uint methodId, ReadOnlySequence<byte> payload, DateTimeOffset? deadline, CallObservation? observation)
    {
        var reader = new MessagePackReader(payload);

        // A notification has no request id: its call carries the method id instead, so a failure reported after the
        // dispatch (its task faulting) can name the method (see MethodNameOf).
        var callId = kind == FrameKind.Notification ? methodId : id;
        try
        {
            using var traced = observation is null ? default : observation.Enter();
            if (deadline is { } propagated && _options.PropagateDeadlines)
            {
                // The implementation's async flow captures the scope at its first await, so its later calls inherit it.
                using var inherited = RpcCallOptions.Propagate(propagated);
                stub.Dispatch(methodId, ref reader, new RpcServerCall(_serverCalls, callId, (byte)kind));
            }
            else
            {
                stub.Dispatch(methodId, ref reader, new RpcServerCall(_serverCalls, callId, (byte)kind));
            }
        }
        catch (InvalidArgumentsException exception)
        {
            _options.Dispatcher?.RecordRejected("invalid_arguments");
            var error = new ErrorPayload(RpcErrorCode.InvalidArguments, string.Empty, $"The arguments of '{FindMethod(stub, methodId)?.WireName}' could not be read: {exception.Message}", null);
            if (kind == FrameKind.Notification)
            {
                // A request's span ends with its reply; a notification has none.
                observation?.End(error.Code.ToString(), error.Message);
            }

            FinishIncoming(id, kind, error);
            return;
        }
        catch (Exception exception)
        {
            // The implementation threw before returning a task.
            FinishIncoming(id, kind, ReportFailure(callId, kind, exception));
            if (kind == FrameKind.Notification)
            {
                observation?.End(exception);
            }

            return;
        }

        if (kind == FrameKind.Notification)
        {
            observation?.End(errorType: null);
        }
    }

    private void OnCancel(uint id)
    {
        CancellationTokenSource? source = null;
        lock (IncomingGate)
        {
            if (_incoming.TryGetValue(id, out var call))
            {
                source = call.GetOrCreateCancellation();
            }
        }

        if (source is not null)
        {
            CancelQuietly(source);
        }
    }

    private void OnStreamCredit(uint id, ReadOnlySequence<byte> payload)
    {
        var reader = new MessagePackReader(payload);
        int items;
        try
        {
            items = reader.ReadInt32();
        }
        catch (Exception exception)
        {
            throw new RpcProtocolException($"The peer sent an unreadable stream credit: {exception.Message}", exception);
        }

        if (items <= 0)
        {
            throw new RpcProtocolException($"The peer granted {items} stream items.");
        }

        StreamCredits? credits;
        lock (IncomingGate)
        {
            credits = _incoming.TryGetValue(id, out var call) ? call.Credits ??= new StreamCredits() : null;
        }

        credits?.Grant(items);
    }

    private bool RejectIfStream(uint id, FrameKind kind, Task task)
    {
        if (kind != FrameKind.StreamRequest)
        {
            return false;
        }

        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        FinishIncoming(id, kind, new ErrorPayload(RpcErrorCode.InvalidRequest, string.Empty, "The method does not return a stream; it must be called as a request.", null));
        return true;
    }

    /// <summary>Disposes a refused stream's enumerator unstarted, so whatever the stream holds (a per-call implementation) is released.</summary>
    private static async Task DisposeUnstartedAsync<TItem>(IAsyncEnumerable<TItem> items)
    {
        try
        {
            await items.GetAsyncEnumerator().DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The stream is refused either way.
        }
    }

    private void ReplyWithResult<TResult>(uint id, FrameKind kind, TResult result, RpcFormatter<TResult> formatter) =>
        FinishIncoming(id, kind, new ValuePayload<TResult>(formatter, result));

    private async Task ReplyWhenDoneAsync(uint id, FrameKind kind, Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            FinishIncoming(id, kind, ReportFailure(id, kind, exception));
            return;
        }

        FinishIncoming(id, kind, default(EmptyPayload));
    }

    private async Task ReplyWhenDoneAsync<TResult>(uint id, FrameKind kind, Task<TResult> task, RpcFormatter<TResult> formatter)
    {
        TResult result;
        try
        {
            result = await task.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            FinishIncoming(id, kind, ReportFailure(id, kind, exception));
            return;
        }

        ReplyWithResult(id, kind, result, formatter);
    }

    private async Task SendStreamAsync<TItem>(uint id, IAsyncEnumerable<TItem> items, RpcFormatter<TItem> formatter, StreamCredits credits, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await credits.TakeAsync(cancellationToken).ConfigureAwait(false);
                await SendFrame(FrameKind.StreamItem, id, 0, new ValuePayload<TItem>(formatter, item)).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            FinishIncoming(id, FrameKind.StreamRequest, ReportFailure(id, FrameKind.StreamRequest, exception));
            return;
        }

        FinishIncoming(id, FrameKind.StreamEnd, default(EmptyPayload));
    }

    /// <summary>
    /// Sends the reply of an incoming call (nothing for a notification) and forgets the call. A reply that cannot be
    /// serialized is answered with an error instead, so the caller never waits for a reply that will not come.
    /// </summary>
    private void FinishIncoming<TPayload>(uint id, FrameKind kind, in TPayload reply)
        where TPayload : struct, IFramePayload
    {
        if (kind != FrameKind.Notification && Telemetry.IsServerObserved)
        {
            EndObservation(id, reply);
        }

        if (kind != FrameKind.Notification && !IsClosed)
        {
            var replyKind = reply is ErrorPayload ? FrameKind.Error : kind == FrameKind.StreamEnd ? FrameKind.StreamEnd : FrameKind.Response;
            try
            {
                PostFrame(replyKind, id, 0, reply);
            }
            catch (ConnectionLostException)
            {
                // The caller is gone; it has already failed the call on its side.
            }
            catch (Exception exception) when (replyKind != FrameKind.Error)
            {
                try
                {
                    PostFrame(FrameKind.Error, id, 0, new ErrorPayload(RpcErrorCode.ResultNotSerializable, exception.GetType().FullName ?? string.Empty, $"The result could not be sent: {exception.Message}", null));
                }
                catch (RpcException)
                {
                    // Closed meanwhile.
                }
            }
        }

        if (kind == FrameKind.Notification)
        {
            return;
        }

        lock (IncomingGate)
        {
            if (_incoming.Remove(id, out var call))
            {
                call.Release();
            }
        }

        IncomingCallAnswered();
    }

    /// <summary>
    /// The error reply of a method that threw, logged unless its caller cancelled it or its deadline passed. Called before
    /// the reply is sent, while the incoming call's entry still names the method. <paramref name="callId"/> is the
    /// request id, or a notification's method id (see <see cref="Invoke"/>).
    /// </summary>
    private ErrorPayload ReportFailure(uint callId, FrameKind kind, Exception exception)
    {
        if (kind == FrameKind.Notification)
        {
            // No reply to make; only the connection's close cancels a notification, which is no failure of its method.
            if (Logger is not null && exception is not OperationCanceledException)
            {
                LogMethodFailed(MethodNameOf(callId, kind), isNotification: true, exception);
            }

            return default;
        }

        var error = ErrorFor(callId, exception);
        if (Logger is not null && error.Code is not (RpcErrorCode.Cancelled or RpcErrorCode.DeadlineExceeded))
        {
            LogMethodFailed(MethodNameOf(callId, kind), isNotification: false, exception);
        }

        return error;
    }

    /// <summary>The wire name of the method an incoming call runs, for a log message (a logging connection keeps its id, see <see cref="OnIncomingCall"/>).</summary>
    private string MethodNameOf(uint callId, FrameKind kind)
    {
        var methodId = callId;
        if (kind != FrameKind.Notification)
        {
            lock (IncomingGate)
            {
                methodId = _incoming.TryGetValue(callId, out var call) ? call.MethodId : 0;
            }
        }

        return _stubs.TryGetValue(methodId, out var stub) && FindMethod(stub, methodId) is { } method ? method.WireName : $"0x{methodId:X8}";
    }

    /// <summary>
    /// Ends the span and duration of an incoming call before its reply leaves, so a caller that has the reply can rely
    /// on the server's span having ended. (A call whose listener went away meanwhile is not ended: nobody would see it.)
    /// </summary>
    private void EndObservation<TPayload>(uint id, in TPayload reply)
        where TPayload : struct, IFramePayload
    {
        CallObservation? observation;
        lock (IncomingGate)
        {
            observation = _incoming.TryGetValue(id, out var call) ? call.Observation : null;
        }

        if (observation is null)
        {
            return;
        }

        if (reply is ErrorPayload error)
        {
            observation.End(error.Code.ToString(), error.Message);
        }
        else
        {
            observation.End(errorType: null);
        }
    }

    private ErrorPayload ErrorFor(uint id, Exception exception)
    {
        if (exception is OperationCanceledException && DeadlineExpired(id))
        {
            return new ErrorPayload(RpcErrorCode.DeadlineExceeded, exception.GetType().FullName ?? string.Empty, "The call's deadline passed before it completed.", null);
        }

        if (exception is OperationCanceledException && WasCancelled(id))
        {
            return new ErrorPayload(RpcErrorCode.Cancelled, exception.GetType().FullName ?? string.Empty, "The call was cancelled.", null);
        }

        if (exception is RemoteInvocationException relayed && relayed.RemoteTypeName.Length > 0)
        {
            // The implementation forwarded a call to another peer (a work-queue hub, a proxy service) and that peer
            // failed: pass its error on as it was, so the caller sees the original exception type and code.
            return new ErrorPayload(
                relayed.ErrorCode,
                relayed.RemoteTypeName,
                relayed.Message,
                _options.IncludeExceptionStackTraces ? relayed.RemoteStackTrace ?? relayed.ToString() : null);
        }

        return new ErrorPayload(
            RpcErrorCode.InvocationFailed,
            exception.GetType().FullName ?? string.Empty,
            exception.Message,
            _options.IncludeExceptionStackTraces ? exception.ToString() : null);
    }

    private bool DeadlineExpired(uint id)
    {
        lock (IncomingGate)
        {
            return _incoming.TryGetValue(id, out var call) && call.DeadlineExpired;
        }
    }

    private bool WasCancelled(uint id)
    {
        lock (IncomingGate)
        {
            return _incoming.TryGetValue(id, out var call) && call.IsCancellationRequested;
        }
    }

    /// <summary>How many stream items the caller has room for; the producer waits at zero.</summary>
    private sealed class StreamCredits
    {
        private int _available;
        private TaskCompletionSource? _waiter;

        private object Gate => this;

        public bool IsWaiting
        {
            get
            {
                lock (Gate)
                {
                    return _waiter is not null;
                }
            }
        }

        public void Grant(int items)
        {
            TaskCompletionSource? waiter;
            lock (Gate)
            {
                _available += items;
                waiter = _waiter;
                _waiter = null;
            }

            waiter?.TrySetResult();
        }

        public async ValueTask TakeAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Task wait;
                lock (Gate)
                {
                    if (_available > 0)
                    {
                        _available--;
                        return;
                    }

                    _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _waiter.Task;
                }

                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The <see cref="ServerCallTarget"/> the stubs complete this connection's calls through: one per connection, so a
    /// call costs one virtual call into the connection's own (non-virtual) methods.
    /// </summary>
    private sealed class ServerCalls(BinaryProtocolConnection connection) : ServerCallTarget
    {
        public override CancellationToken GetCancellationToken(uint requestId, byte kind) =>
            connection.GetServerCallToken(requestId, (FrameKind)kind);

        public override void Complete(uint requestId, byte kind, Task task) =>
            connection.CompleteServerCall(requestId, (FrameKind)kind, task);

        public override void Complete(uint requestId, byte kind, ValueTask task) =>
            connection.CompleteServerCall(requestId, (FrameKind)kind, task);

        public override void Complete<TResult>(uint requestId, byte kind, Task<TResult> task, RpcFormatter<TResult> resultFormatter) =>
            connection.CompleteServerCall(requestId, (FrameKind)kind, task, resultFormatter);

        public override void Complete<TResult>(uint requestId, byte kind, ValueTask<TResult> task, RpcFormatter<TResult> resultFormatter) =>
            connection.CompleteServerCall(requestId, (FrameKind)kind, task, resultFormatter);

        public override void CompleteStream<TItem>(uint requestId, byte kind, IAsyncEnumerable<TItem> items, RpcFormatter<TItem> itemFormatter) =>
            connection.CompleteServerStream(requestId, (FrameKind)kind, items, itemFormatter);

        public override void MethodNotFound(uint requestId, byte kind) =>
            connection.CompleteMethodNotFound(requestId, (FrameKind)kind);
    }
}
