using System;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using Rpc.Connections;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// JSON-RPC 2.0 as an <see cref="RpcProtocol"/>: its clients open with a header name (an ASCII letter, as in
/// <c>Content-Length:</c>), which no binary client sends.
/// </summary>
internal sealed class JsonRpcProtocol : RpcProtocol
{
    private JsonRpcProtocol()
        : base("JsonRpc", "jsonrpc")
    {
    }

    public static JsonRpcProtocol Instance { get; } = new();

    [UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification = "Reached only through RpcProtocol.JsonRpc, whose getter carries the requirement.")]
    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "Reached only through RpcProtocol.JsonRpc, whose getter carries the requirement.")]
    internal override ProtocolConnection CreateConnection(IDuplexPipe transport, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval) =>
        JsonRpcProtocolConnection.Create(transport, options, abortTransport, keepAliveInterval);

    internal override bool IsFirstByteOfClient(byte firstByte) =>
        firstByte is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z');
}
