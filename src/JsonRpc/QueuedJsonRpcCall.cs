using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Tasks;
using StreamJsonRpc.Protocol;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// A JSON-RPC call waiting in an <see cref="RpcDispatcher"/>'s queue: StreamJsonRpc has already bound its arguments, so
/// the item only keeps the invocation, and StreamJsonRpc's read loop awaits <see cref="Answer"/> as it would the
/// inline dispatch.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class QueuedJsonRpcCall(JsonRpcProtocolConnection connection, Func<ValueTask<JsonRpcMessage>> invoke) : DispatchItem
{
    private readonly TaskCompletionSource<JsonRpcMessage> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the call's answer: StreamJsonRpc's result or error message.</summary>
    public Task<JsonRpcMessage> Answer => _answer.Task;

    public override async Task RunAsync()
    {
        if (connection.IsClosed)
        {
            // Nobody will read the answer; the method must not run for a peer that is gone.
            _answer.TrySetException(new ConnectionLostException("The connection closed while the call waited in the dispatcher's queue."));
            return;
        }

        try
        {
            _answer.TrySetResult(await invoke().ConfigureAwait(false));
        }
        catch (Exception exception)
        {
            _answer.TrySetException(exception);
        }
    }
}
