using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Rpc.Protocols.Binary;

/// <summary>
/// The 16 bytes each side of a binary-protocol connection writes before any frame, without waiting for the peer's:
/// <c>[4 magic: 0x89 'R' 'P' 'C'][u16 LE version][u16 LE reserved = 0][u64 LE feature bits]</c>.
/// </summary>
/// <remarks>
/// Version policy: each side announces the highest version it speaks; both then speak the lower of the two. A side that
/// no longer supports that version fails with an <see cref="RpcProtocolException"/> naming both versions and closes, so
/// the older peer learns of it as a closed connection right after the hello. A feature bit is used only when both sides
/// announce it; unknown bits are ignored (version 1 defines none). The first byte, 0x89, is not ASCII: one byte tells a
/// binary peer from a JSON-RPC one (whose messages start with a <c>Content-Length:</c> header).
/// </remarks>
internal static class ProtocolHello
{
    /// <summary>The length of a hello.</summary>
    public const int Size = 16;

    /// <summary>The highest version this side speaks, the one it announces.</summary>
    public const ushort CurrentVersion = 1;

    /// <summary>The lowest version this side still speaks.</summary>
    public const ushort MinimumVersion = 1;

    // How many of the peer's first bytes an error message shows.
    private const int ShownBytes = 32;

    /// <summary>The first byte of a hello: not ASCII, unlike the first byte of a JSON-RPC message.</summary>
    public const byte FirstByte = 0x89;

    /// <summary>Gets the magic bytes a hello starts with.</summary>
    public static ReadOnlySpan<byte> Magic => [FirstByte, (byte)'R', (byte)'P', (byte)'C'];

    /// <summary>Writes this side's hello: current version, no reserved bits, no features.</summary>
    public static void Write(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], 0);
    }

    /// <summary>
    /// Reads the peer's hello off the front of <paramref name="buffer"/> once it is complete. Bytes that cannot start a
    /// hello fail at once, without waiting for all sixteen: a peer that sent a few wrong bytes may wait for an answer.
    /// </summary>
    /// <param name="buffer">What the peer sent so far; on success, what follows the hello.</param>
    /// <param name="peerVersion">The version the peer announced.</param>
    /// <returns><see langword="false"/> while the hello is incomplete.</returns>
    /// <exception cref="RpcProtocolException">The peer does not speak Rpc's binary protocol, or speaks no version this side does.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out ushort peerVersion)
    {
        peerVersion = 0;
        Span<byte> hello = stackalloc byte[Size];
        var available = (int)Math.Min(buffer.Length, Size);
        buffer.Slice(0, available).CopyTo(hello);
        var magicReceived = Math.Min(available, Magic.Length);
        if (!hello[..magicReceived].SequenceEqual(Magic[..magicReceived]))
        {
            throw new RpcProtocolException(
                $"The peer does not speak Rpc's binary protocol: it sent {Describe(buffer)} instead of the binary protocol's hello (0x89 'RPC'). " +
                "Is it an HTTP server, a JSON-RPC endpoint (use RpcProtocol.JsonRpc), or another service on that port?");
        }

        if (available < Size)
        {
            return false;
        }

        peerVersion = BinaryPrimitives.ReadUInt16LittleEndian(hello[4..]);
        if (Math.Min(peerVersion, CurrentVersion) < MinimumVersion)
        {
            throw new RpcProtocolException(
                $"The peer speaks version {peerVersion} of Rpc's binary protocol; this side speaks versions {MinimumVersion} to {CurrentVersion}. " +
                "Update the older side.");
        }

        buffer = buffer.Slice(Size);
        return true;
    }

    /// <summary>Shows the peer's first bytes as hex and as ASCII (a dot for anything not printable).</summary>
    private static string Describe(ReadOnlySequence<byte> buffer)
    {
        var shown = buffer.Slice(0, Math.Min(buffer.Length, ShownBytes)).ToArray();
        var ascii = new StringBuilder(shown.Length);
        foreach (var b in shown)
        {
            ascii.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        }

        var more = buffer.Length > ShownBytes ? " …" : string.Empty;
        return $"{Convert.ToHexString(shown)}{more} (\"{ascii}\"{more})";
    }
}
