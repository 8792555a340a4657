using System.Buffers;
using MessagePack;

namespace Rpc.Runtime;

/// <summary>
/// The arguments of a call kept as bytes so the call can be sent again: sending hands pooled buffers
/// (<see cref="RpcBuffer"/>) back to the pool, so a re-sent call must read fresh arguments, never re-send the ones
/// already given away.
/// </summary>
internal static class ArgumentsSnapshot
{
    public static byte[] Take<TArguments>(in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        arguments.Write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public static TArguments Restore<TArguments>(byte[] snapshot)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var reader = new MessagePackReader(snapshot);
        return TArguments.Read(ref reader);
    }
}
