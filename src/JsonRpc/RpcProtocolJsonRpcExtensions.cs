using System.Diagnostics.CodeAnalysis;
using Rpc.Protocols.JsonRpc;

namespace Rpc;

/// <summary>Adds <c>RpcProtocol.JsonRpc</c> to <see cref="RpcProtocol"/>.</summary>
public static class RpcProtocolJsonRpcExtensions
{
    extension(RpcProtocol)
    {
        /// <summary>
        /// Gets JSON-RPC 2.0 with <c>Content-Length</c> header framing, on StreamJsonRpc: for peers in other languages (for
        /// example vscode-jsonrpc, or a short Python script). Slower (~50 µs of engine cost per call) than
        /// <see cref="RpcProtocol.Binary"/>, and not NativeAOT- or trim-safe. A server accepts its clients once it is in
        /// <see cref="RpcServerOptions.Protocols"/>.
        /// </summary>
        public static RpcProtocol JsonRpc
        {
            [RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
            [RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
            get => JsonRpcProtocol.Instance;
        }
    }
}
