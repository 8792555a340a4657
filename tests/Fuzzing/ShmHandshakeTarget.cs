using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.Fuzzing;

/// <summary>
/// Target <c>shm-handshake</c>: the input is everything a hostile <c>shm://</c> server sends on the rendezvous socket
/// before closing it; the client side (<see cref="SharedMemoryHandshake.AcceptOfferAsync"/>) parses the offer.
/// </summary>
/// <remarks>
/// Oracle: the handshake ends within <see cref="FuzzTargets.InputTimeout"/>, failing with <see cref="IOException"/> (a bad
/// offer, a file it will not map, the server gone) or succeeding, in which case the segment is disposed. It never opens a
/// file outside <c>/dev/shm</c> or of another name's pattern: the offered name must pass the same check as a real one.
/// </remarks>
internal static class ShmHandshakeTarget
{
    /// <summary>The endpoint name the client connects to; an offer must name a segment of this name.</summary>
    private const string Name = "fuzz";

    /// <summary>More than an offer can hold (16 + 255 bytes), and little enough to fit the socket's buffer before anyone reads.</summary>
    private const int MaxInputLength = 64 * 1024;

    public static void Run(byte[] input)
    {
        var (server, client) = SocketPair();
        using (server)
        using (client)
        {
            server.Send(input.AsSpan(0, Math.Min(input.Length, MaxInputLength)));
            server.Shutdown(SocketShutdown.Send);
            FuzzTargets.WaitForRun(AcceptAsync(client), () => "the handshake was still running");
        }
    }

    /// <summary>A well-formed offer, and one for each check of the header.</summary>
    public static List<(string Name, byte[] Bytes)> Seeds() =>
    [
        ("valid-offer", Offer(0x4D485352, 1, SharedMemorySegment.DefaultRingBytes, SharedMemoryName.SegmentPrefix(Name) + "1234-00112233aabbccdd")),
        ("other-name", Offer(0x4D485352, 1, SharedMemorySegment.MinRingBytes, "rpc-other@1-00")),
        ("path-escape", Offer(0x4D485352, 1, SharedMemorySegment.MinRingBytes, SharedMemoryName.SegmentPrefix(Name) + "/../../etc/passwd")),
        ("bad-ring-size", Offer(0x4D485352, 1, 12345, SharedMemoryName.SegmentPrefix(Name) + "1-00")),
    ];

    private static byte[] Offer(uint magic, ushort version, int ringBytes, string fileName)
    {
        var name = Encoding.ASCII.GetBytes(fileName);
        var message = new byte[16 + name.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, magic);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), version);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), (ushort)name.Length);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), ringBytes);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(12), 1234);
        name.CopyTo(message.AsSpan(16));
        return message;
    }

    private static async Task AcceptAsync(Socket client)
    {
        try
        {
            using var segment = await SharedMemoryHandshake.AcceptOfferAsync(client, Name, "shm://" + Name, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        catch (Exception exception)
        {
            throw new OracleViolationException($"The handshake failed with {exception.GetType().FullName}, not an IOException: {exception.Message}", exception);
        }
    }

    /// <summary>A connected pair of Unix stream sockets, as the listener and the connector have after the rendezvous.</summary>
    private static (Socket Server, Socket Client) SocketPair()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rpc-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            listener.Listen(1);
            var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(path));
            return (listener.Accept(), client);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
