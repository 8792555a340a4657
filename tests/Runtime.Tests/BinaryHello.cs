using Rpc.Protocols.Binary;

namespace Rpc.Tests;

/// <summary>Bytes of a hand-written binary-protocol peer: frames must follow a hello.</summary>
internal static class BinaryHello
{
    /// <summary>Gets <paramref name="frames"/> after a valid hello of the current version.</summary>
    public static byte[] Before(params byte[] frames)
    {
        var bytes = new byte[ProtocolHello.Size + frames.Length];
        ProtocolHello.Write(bytes);
        frames.CopyTo(bytes, ProtocolHello.Size);
        return bytes;
    }
}
