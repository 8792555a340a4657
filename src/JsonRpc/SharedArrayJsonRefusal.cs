using System;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rpc.SharedState;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// Refuses <see cref="SharedArray{T}"/> and <see cref="SharedArraySlice{T}"/> on the JSON-RPC wire, both ways: JSON-RPC is the interop protocol, whose peers
/// may be on another machine or in another language, where a shared memory handle means nothing. Without this,
/// System.Text.Json would write the handle's public properties and the peer would fail to read them, far from the cause.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class SharedArrayJsonRefusal : JsonConverterFactory
{
    internal const string Message =
        "Shared arrays can be passed in calls only with the binary protocol (RpcProtocol.Binary), between processes of one machine; over JSON-RPC send the data itself (an RpcBuffer or an array).";

    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() is var definition
        && (definition == typeof(SharedArray<>) || definition == typeof(SharedArraySlice<>));

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Refusal<>).MakeGenericType(typeToConvert))!;

    private sealed class Refusal<THandle> : JsonConverter<THandle>
    {
        public override THandle Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException(Message);

        public override void Write(Utf8JsonWriter writer, THandle value, JsonSerializerOptions options) =>
            throw new NotSupportedException(Message);
    }
}
