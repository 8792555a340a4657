using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Diagnostics;
using Rpc.Runtime;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// StreamJsonRpc's <see cref="StreamJsonRpc.JsonRpc"/> with Rpc's semantics: Rpc's error objects, shutdown rejection,
/// and the bookkeeping behind <c>IncomingCallsInFlight</c>, <c>WhenIncomingCallsDrainedAsync</c> and
/// <c>CancelIncomingCalls</c>.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class JsonRpcEngine : StreamJsonRpc.JsonRpc
{
    private readonly JsonRpcProtocolConnection _owner;
    private readonly IJsonRpcMessageFactory _messages;

    public JsonRpcEngine(IJsonRpcMessageHandler handler, IJsonRpcMessageFactory messages, JsonRpcProtocolConnection owner)
        : base(handler)
    {
        _owner = owner;
        _messages = messages;
    }

    /// <summary>
    /// The error object of a server method that threw: code -32000, the exception's message, and a <c>data</c> object
    /// <c>{"type": "System.InvalidOperationException", "message": "…", "stack": null, "code": HResult}</c> whose
    /// <c>stack</c> is filled only when <see cref="RpcConnectionOptions.IncludeExceptionStackTraces"/> is set.
    /// </summary>
    protected override JsonRpcError.ErrorDetail CreateErrorDetails(JsonRpcRequest request, Exception exception)
    {
        if (exception is not OperationCanceledException)
        {
            // Notifications pass here too: StreamJsonRpc builds their error and then drops it, so the log is its only trace.
            _owner.LogMethodFailed(request.Method ?? string.Empty, !request.IsResponseExpected, exception);
        }

        if (exception is LocalRpcException)
        {
            // An implementation that chose its own JSON-RPC error code and data keeps them.
            return base.CreateErrorDetails(request, exception);
        }

        var typeName = exception.GetType().FullName ?? string.Empty;
        return new JsonRpcError.ErrorDetail
        {
            Code = JsonRpcErrorCode.InvocationError,
            Message = exception.Message,
            Data = new CommonErrorData
            {
                TypeName = typeName,
                Message = exception.Message,
                StackTrace = _owner.Options.IncludeExceptionStackTraces ? exception.ToString() : null,
                HResult = exception.HResult,
            },
        };
    }

    /// <summary>
    /// Reads an error's <c>data</c> as raw JSON whatever its shape: a peer in another language may send anything there,
    /// and a shape that does not fit <see cref="CommonErrorData"/> must not turn a remote error into a parse failure.
    /// </summary>
    protected override Type? GetErrorDetailsDataType(JsonRpcError error) => typeof(System.Text.Json.JsonElement);

    /// <summary>Every incoming call whose method was found passes here, on the read loop, in arrival order.</summary>
    protected override ValueTask<JsonRpcMessage> DispatchRequestAsync(JsonRpcRequest request, TargetMethod targetMethod, CancellationToken cancellationToken)
    {
        var method = request.Method ?? string.Empty;
        if (method == "$/cancelRequest")
        {
            return base.DispatchRequestAsync(request, targetMethod, cancellationToken);
        }

        // StreamJsonRpc's own methods ($/enumerator/next, $/enumerator/abort) serve streams already started, and a keepalive
        // ping must be answered whatever the load: never rejected, never queued.
        var ownMethod = method.StartsWith("$/", StringComparison.Ordinal) || method == KeepAlive.JsonRpcPingMethod;
        if (_owner.IsRejectingNewCalls && !ownMethod)
        {
            _owner.Options.Dispatcher?.RecordRejected("shutting_down");
            const string Refusal = "The server is shutting down and accepts no new calls.";
            if (_owner.Telemetry.IsServerObserved)
            {
                _owner.RecordRefused(request, RpcErrorCode.ServerShuttingDown, Refusal);
            }

            var error = _messages.CreateErrorMessage();
            error.RequestId = request.RequestId;
            error.Error = new JsonRpcError.ErrorDetail
            {
                Code = (JsonRpcErrorCode)(int)RpcErrorCode.ServerShuttingDown,
                Message = Refusal,
            };
            return new ValueTask<JsonRpcMessage>(error);
        }

        var token = _owner.IncomingCallStarted(request, cancellationToken);
        var observation = !ownMethod && _owner.Telemetry.IsServerObserved ? _owner.StartServerObservation(request) : null;
        ValueTask<JsonRpcMessage> dispatch;
        try
        {
            if (_owner.Options.Dispatcher is { } dispatcher && !ownMethod)
            {
                dispatch = _owner.Queue(dispatcher, new QueuedJsonRpcCall(_owner, () =>
                {
                    using var traced = observation is null ? default : observation.Enter();
                    return EndWithAnswer(base.DispatchRequestAsync(request, targetMethod, token), observation);
                }));
            }
            else
            {
                // Called before any await, so invocation order stays the arrival order.
                using var traced = observation is null ? default : observation.Enter();
                dispatch = EndWithAnswer(base.DispatchRequestAsync(request, targetMethod, token), observation);
            }
        }
        catch
        {
            _owner.IncomingCallEnded(request.IsResponseExpected ? request.RequestId : default, request.IsResponseExpected);
            throw;
        }

        if (request.IsResponseExpected)
        {
            // The call counts as running until its response is written (see SendAsync).
            return dispatch;
        }

        return NotificationDispatchedAsync(dispatch);
    }

    /// <summary>
    /// Answers a request whose id names a call still running here (see <see cref="DuplicateRequestRejectingHandler"/>):
    /// -32600 Invalid Request with the id echoed, sent past <see cref="SendAsync"/>, whose bookkeeping belongs to the
    /// running call.
    /// </summary>
    internal ValueTask RejectDuplicateRequestAsync(RequestId id, string? method)
    {
        var error = _messages.CreateErrorMessage();
        error.RequestId = id;
        error.Error = new JsonRpcError.ErrorDetail
        {
            Code = JsonRpcErrorCode.InvalidRequest,
            Message = $"The request id {id} is already in use by a call that is still running; the request ('{method}') was not run.",
        };
        return base.SendAsync(error, CancellationToken.None);
    }

    protected override ValueTask SendAsync(JsonRpcMessage message, CancellationToken cancellationToken)
    {
        var id = message switch
        {
            JsonRpcResult result => result.RequestId,
            JsonRpcError error => error.RequestId,
            _ => default,
        };

        // The id is retired before the response leaves: a peer may reuse it as soon as it has the response.
        if (id.IsEmpty || !_owner.TryRetireIncomingCallId(id))
        {
            if (message is JsonRpcError refused)
            {
                // An error for a request never dispatched: StreamJsonRpc refused it.
                _owner.ObserveIfRefused(refused);
            }

            return base.SendAsync(message, cancellationToken);
        }

        var sending = base.SendAsync(message, cancellationToken);
        if (sending.IsCompleted)
        {
            _owner.IncomingResponseSent();
            return sending;
        }

        return ResponseSentAsync(sending);
    }

    /// <summary>Ends an incoming call's observation, if it has one, with its answer: an error object's code is its <c>error.type</c>.</summary>
    private static ValueTask<JsonRpcMessage> EndWithAnswer(ValueTask<JsonRpcMessage> dispatch, CallObservation? observation) =>
        observation is null ? dispatch : EndWithAnswerAsync(dispatch, observation);

    private static async ValueTask<JsonRpcMessage> EndWithAnswerAsync(ValueTask<JsonRpcMessage> dispatch, CallObservation observation)
    {
        try
        {
            var answer = await dispatch.ConfigureAwait(false);
            if (answer is JsonRpcError { Error: { } error })
            {
                observation.End(((RpcErrorCode)(int)error.Code).ToString(), error.Message);
            }
            else if (observation.Method.Kind == RpcMethodKind.Stream && answer is JsonRpcResult { Result: { } items } result)
            {
                // This response only carries the enumerator's token: the span goes on until the stream ends.
                result.Result = ObservedJsonRpcStream.Wrap(items, observation);
            }
            else
            {
                observation.End(errorType: null);
            }

            return answer;
        }
        catch (Exception exception)
        {
            observation.End(exception);
            throw;
        }
    }

    private async ValueTask<JsonRpcMessage> NotificationDispatchedAsync(ValueTask<JsonRpcMessage> dispatch)
    {
        try
        {
            return await dispatch.ConfigureAwait(false);
        }
        finally
        {
            _owner.IncomingCallEnded(default, isRequest: false);
        }
    }

    private async ValueTask ResponseSentAsync(ValueTask sending)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        finally
        {
            _owner.IncomingResponseSent();
        }
    }
}
