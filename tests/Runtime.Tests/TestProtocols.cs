using System;

namespace Rpc.Tests;

/// <summary>Protocols by name, for theory data (an attribute argument must be a constant).</summary>
internal static class TestProtocols
{
    public static RpcProtocol Named(string name) => name switch
    {
        "Binary" => RpcProtocol.Binary,
        "JsonRpc" => RpcProtocol.JsonRpc,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Binary or JsonRpc."),
    };
}
