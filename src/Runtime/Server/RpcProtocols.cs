using System;

namespace Rpc;

/// <summary>The protocols a server endpoint serves; it tells them apart by the first byte each client sends.</summary>
[Flags]
public enum RpcProtocols
{
    /// <summary>Rpc's binary protocol (<see cref="RpcProtocol.Binary"/>): clients that open with its hello (first byte 0x89).</summary>
    Binary = 1,

    /// <summary>JSON-RPC 2.0 (<see cref="RpcProtocol.JsonRpc"/>): clients whose first byte is an ASCII letter (a <c>Content-Length:</c> header).</summary>
    JsonRpc = 2,

    /// <summary>Both protocols, the default.</summary>
    All = Binary | JsonRpc,
}
