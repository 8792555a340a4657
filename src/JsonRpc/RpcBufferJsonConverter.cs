using System;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// <see cref="RpcBuffer"/> on the JSON-RPC wire: a base64 string, like <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>.
/// </summary>
/// <remarks>
/// Ownership follows <see cref="RpcBuffer"/>'s rules: a buffer written to the wire (a client argument, a server result)
/// is disposed once written. A buffer read from the wire wraps the freshly decoded array (System.Text.Json decodes
/// base64 into a new array), so disposing it returns nothing to any pool.
/// </remarks>
internal sealed class RpcBufferJsonConverter : JsonConverter<RpcBuffer>
{
    public override bool HandleNull => false;

    public override RpcBuffer Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        RpcBuffer.Wrap(reader.GetBytesFromBase64());

    public override void Write(Utf8JsonWriter writer, RpcBuffer value, JsonSerializerOptions options)
    {
        writer.WriteBase64StringValue(value.Span);
        value.Dispose();
    }
}
