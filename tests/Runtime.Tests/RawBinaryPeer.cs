using Rpc.Protocols.Binary;

namespace Rpc.Tests;

/// <summary>What a hand-written binary peer sends: the protocol's hello first, as every binary peer does, then its frames.</summary>
internal static class RawBinaryPeer
{
    public static byte[] AfterHello(byte[] frames) => [.. ProtocolHello.Bytes, .. frames];
}
