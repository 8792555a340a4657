using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;
using StreamJsonRpc.Reflection;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// StreamJsonRpc's <see cref="HeaderDelimitedMessageHandler"/>, answering a request whose id names a call still running
/// here with -32600 Invalid Request itself: StreamJsonRpc keys its own per-call state (the cancellation source) by id, so
/// it must never see the duplicate, and the running call goes on to be answered once. Also where a request for a
/// method nobody serves is observed (StreamJsonRpc answers it without a dispatch Rpc could see).
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class DuplicateRequestRejectingHandler(PipeWriter writer, PipeReader reader, IJsonRpcMessageFormatter formatter, JsonRpcProtocolConnection owner)
    : HeaderDelimitedMessageHandler(writer, reader, formatter)
{
    protected override ValueTask<JsonRpcMessage?> ReadCoreAsync(CancellationToken cancellationToken)
    {
        var read = base.ReadCoreAsync(cancellationToken);
        if (!read.IsCompletedSuccessfully)
        {
            return ReadSkippingDuplicatesAsync(read, cancellationToken);
        }

        var message = read.Result;
        if (IsDuplicate(message))
        {
            return ReadSkippingDuplicatesAsync(new ValueTask<JsonRpcMessage?>(message), cancellationToken);
        }

        owner.ObserveIfNotServed(message);
        return new ValueTask<JsonRpcMessage?>(message);
    }

    private bool IsDuplicate(JsonRpcMessage? message) =>
        message is JsonRpcRequest { IsResponseExpected: true } request && owner.IsIncomingCall(request.RequestId);

    private async ValueTask<JsonRpcMessage?> ReadSkippingDuplicatesAsync(ValueTask<JsonRpcMessage?> read, CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = await read.ConfigureAwait(false);
            if (!IsDuplicate(message))
            {
                owner.ObserveIfNotServed(message);
                return message;
            }

            var request = (JsonRpcRequest)message!;
            var id = request.RequestId;
            var method = request.Method;

            // StreamJsonRpc's read loop releases the buffer of each message it receives; this one it never will.
            ((IJsonRpcMessageBufferManager)this).DeserializationComplete(message!);
            await owner.Rpc.RejectDuplicateRequestAsync(id, method).ConfigureAwait(false);
            read = base.ReadCoreAsync(cancellationToken);
        }
    }
}
