using System;
using System.Buffers.Binary;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// The exchange on a freshly connected rendezvous socket that hands a segment from the server to the client.
/// </summary>
/// <remarks>
/// Server → client: magic, version, ring size, server pid, the segment's file name. The client opens and maps the file
/// (after its own checks), records its pid in the header, and answers one byte. Only then does the server unlink the file:
/// from there on the segment exists only as two mappings, so no file outlives the connection, however either side dies.
/// </remarks>
internal static class SharedMemoryHandshake
{
    private const uint Magic = 0x4D485352; // "RSHM"
    private const ushort Version = 1;
    private const int FixedSize = 16;
    private const byte Ready = 0x06;

    /// <summary>Server side: creates the segment, offers it, waits for the client to map it, then unlinks the file.</summary>
    public static async Task<SharedMemorySegment> OfferAsync(Socket socket, string name, int ringBytes, CancellationToken cancellationToken)
    {
        var segment = SharedMemorySegment.Create(SharedMemoryName.Directory, SharedMemoryName.SegmentPrefix(name), ringBytes);
        try
        {
            var fileName = Encoding.ASCII.GetBytes(Path.GetFileName(segment.Path));
            var message = new byte[FixedSize + fileName.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(message, Magic);
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), Version);
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), (ushort)fileName.Length);
            BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), ringBytes);
            BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(12), Environment.ProcessId);
            fileName.CopyTo(message.AsSpan(FixedSize));
            await socket.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);

            var answer = new byte[1];
            var received = await socket.ReceiveAsync(answer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received != 1 || answer[0] != Ready)
            {
                throw new IOException("The client closed the rendezvous socket before mapping its segment.");
            }

            segment.Unlink();
            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    /// <summary>Client side: reads the offer, opens and maps the segment, and confirms.</summary>
    public static async Task<SharedMemorySegment> AcceptOfferAsync(Socket socket, string name, string endpoint, CancellationToken cancellationToken)
    {
        var header = new byte[FixedSize];
        await ReceiveExactlyAsync(socket, header, endpoint, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic || BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4)) != Version)
        {
            throw new IOException($"{endpoint} did not answer as an Rpc shared-memory server of this version.");
        }

        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(6));
        var ringBytes = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        var prefix = SharedMemoryName.SegmentPrefix(name);
        if (!SharedMemorySegment.IsValidRingSize(ringBytes) || nameLength <= prefix.Length || nameLength > 255)
        {
            throw new IOException($"{endpoint} offered an invalid shared-memory segment.");
        }

        var fileNameBytes = new byte[nameLength];
        await ReceiveExactlyAsync(socket, fileNameBytes, endpoint, cancellationToken).ConfigureAwait(false);
        var fileName = Encoding.ASCII.GetString(fileNameBytes);

        // Only a file of this name's own pattern directly under /dev/shm: never a path the server chose.
        if (!fileName.StartsWith(prefix, StringComparison.Ordinal) || !IsSegmentSuffix(fileName.AsSpan(prefix.Length)))
        {
            throw new IOException($"{endpoint} offered an invalid shared-memory segment name.");
        }

        var segment = SharedMemorySegment.Open(Path.Combine(SharedMemoryName.Directory, fileName), ringBytes);
        try
        {
            segment.RecordPeer();
            await socket.SendAsync(new[] { Ready }, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    private static bool IsSegmentSuffix(ReadOnlySpan<char> suffix)
    {
        foreach (var c in suffix)
        {
            if (!(char.IsAsciiDigit(c) || char.IsAsciiHexDigitLower(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, string endpoint, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                throw new IOException($"{endpoint} closed the connection during the shared-memory handshake.");
            }

            buffer = buffer[received..];
        }
    }
}
