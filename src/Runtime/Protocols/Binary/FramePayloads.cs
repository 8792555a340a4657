using MessagePack;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>What follows a frame header. Structs, so writing a frame is generic and allocation-free.</summary>
internal interface IFramePayload
{
    void Write(ref MessagePackWriter writer);
}

internal readonly struct ArgumentsPayload<TArguments>(TArguments arguments) : IFramePayload
    where TArguments : struct, IRpcArguments<TArguments>
{
    public void Write(ref MessagePackWriter writer) => arguments.Write(ref writer);
}

internal readonly struct ValuePayload<T>(RpcFormatter<T> formatter, T value) : IFramePayload
{
    public void Write(ref MessagePackWriter writer) => formatter.Write(ref writer, value);
}

internal readonly struct EmptyPayload : IFramePayload
{
    public void Write(ref MessagePackWriter writer)
    {
    }
}

internal readonly struct CreditPayload(int items) : IFramePayload
{
    public void Write(ref MessagePackWriter writer) => writer.Write(items);
}

/// <summary>An error reply: <c>[code, remote type name, message, stack trace or nil]</c>.</summary>
internal readonly struct ErrorPayload(RpcErrorCode code, string typeName, string message, string? stackTrace) : IFramePayload
{
    public RpcErrorCode Code => code;

    public string Message => message;

    public void Write(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write((int)code);
        writer.Write(typeName);
        writer.Write(message);
        writer.Write(stackTrace);
    }

    public static RemoteInvocationException Read(ref MessagePackReader reader)
    {
        var count = UntrustedData.ReadArrayHeader(ref reader);
        if (count < 3)
        {
            throw new MessagePackSerializationException("An error reply has at least three items.");
        }

        var code = (RpcErrorCode)reader.ReadInt32();
        var typeName = reader.ReadString() ?? string.Empty;
        var message = reader.ReadString() ?? string.Empty;
        var stackTrace = count > 3 ? reader.ReadString() : null;
        return new RemoteInvocationException(code, typeName, message, stackTrace);
    }
}
