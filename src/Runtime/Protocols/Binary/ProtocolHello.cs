using System;
using System.Buffers;
using System.Buffers.Binary;

namespace Rpc.Protocols.Binary;

/// <summary>
/// The 16 bytes each side of a binary connection writes before any frame:
/// <c>[0x89 'R' 'P' 'C'][u16 LE version][u16 LE reserved = 0][u64 LE feature bits]</c>. Its first byte is not ASCII, which
/// is how a server tells a binary client from a JSON-RPC one (whose <c>Content-Length</c> header starts with a letter).
/// </summary>
internal static class ProtocolHello
{
    /// <summary>The first byte a binary peer sends.</summary>
    public const byte FirstByte = 0x89;

    /// <summary>The length of the hello in bytes.</summary>
    public const int Length = 16;

    /// <summary>The protocol version this side speaks.</summary>
    public const ushort Version = 1;

    private static ReadOnlySpan<byte> Magic => [FirstByte, (byte)'R', (byte)'P', (byte)'C'];

    /// <summary>Gets the hello this side sends (version 1, no feature bits).</summary>
    public static ReadOnlySpan<byte> Bytes => [FirstByte, (byte)'R', (byte)'P', (byte)'C', (byte)Version, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Checks the peer's hello, the first <see cref="Length"/> bytes of <paramref name="received"/>.</summary>
    /// <exception cref="RpcProtocolException">The peer does not speak Rpc's binary protocol, or speaks no version this side knows.</exception>
    public static void Validate(ReadOnlySequence<byte> received)
    {
        Span<byte> hello = stackalloc byte[Length];
        received.Slice(0, Length).CopyTo(hello);
        if (!hello[..Magic.Length].SequenceEqual(Magic))
        {
            throw new RpcProtocolException(
                $"The peer did not open with Rpc's binary hello: its first bytes are {Convert.ToHexString(hello)}, not {Convert.ToHexString(Magic)}… Is it a JSON-RPC peer, or not an Rpc peer at all? Both sides must speak the same protocol (RpcConnectionOptions.Protocol).");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(hello[4..]);
        if (version == 0)
        {
            throw new RpcProtocolException("The peer's binary hello announces protocol version 0, which does not exist.");
        }
    }
}
