using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.IO.Pipelines;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Protocols.Binary;

namespace Rpc.Tests;

/// <summary>The far end of an in-memory pipe, driven by a test byte by byte: a peer that misbehaves on purpose.</summary>
internal sealed class RawPeer(IDuplexPipe pipe)
{
    public IDuplexPipe Pipe { get; } = pipe;

    /// <summary>Gets a binary frame without payload: <c>[u32 length = 5][u8 kind][u32 id]</c>.</summary>
    public static byte[] Frame(FrameKind kind, uint id)
    {
        var frame = new byte[FrameHeader.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, FrameHeader.MinimumLength);
        frame[FrameHeader.LengthSize] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(FrameHeader.LengthSize + 1), id);
        return frame;
    }

    /// <summary>Gets a JSON-RPC message with its <c>Content-Length</c> header.</summary>
    public static byte[] JsonMessage(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        return [.. Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), .. body];
    }

    public async Task WriteAsync(byte[] bytes, CancellationToken cancellationToken) => await Pipe.Output.WriteAsync(bytes, cancellationToken);

    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await Pipe.Input.ReadAsync(cancellationToken);
            if (result.Buffer.Length >= count)
            {
                var bytes = result.Buffer.Slice(0, count).ToArray();
                Pipe.Input.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }

            Pipe.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException($"The connection closed after {result.Buffer.Length} of {count} bytes.");
            }
        }
    }

    /// <summary>Reads the connection's hello and returns the version it announced, failing on anything but a hello.</summary>
    public async Task<ushort> ReadHelloAsync(CancellationToken cancellationToken)
    {
        var hello = await ReadExactlyAsync(ProtocolHello.Size, cancellationToken);
        Assert.Equal(ProtocolHello.Magic.ToArray(), hello[..4]);
        return BinaryPrimitives.ReadUInt16LittleEndian(hello.AsSpan(4));
    }

    /// <summary>Reads one binary frame; returns its kind and id (the rest is skipped).</summary>
    public async Task<(FrameKind Kind, uint Id)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var length = BinaryPrimitives.ReadUInt32LittleEndian(await ReadExactlyAsync(FrameHeader.LengthSize, cancellationToken));
        var rest = await ReadExactlyAsync((int)length, cancellationToken);
        return ((FrameKind)rest[0], BinaryPrimitives.ReadUInt32LittleEndian(rest.AsSpan(1)));
    }

    /// <summary>Reads one JSON-RPC message's body.</summary>
    public async Task<string> ReadJsonMessageAsync(CancellationToken cancellationToken)
    {
        var header = new StringBuilder();
        while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            header.Append((char)(await ReadExactlyAsync(1, cancellationToken))[0]);
        }

        const string Name = "Content-Length:";
        var text = header.ToString();
        var start = text.IndexOf(Name, StringComparison.OrdinalIgnoreCase) + Name.Length;
        var length = int.Parse(text[start..text.IndexOf('\r', start)].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return Encoding.UTF8.GetString(await ReadExactlyAsync(length, cancellationToken));
    }

    /// <summary>Gets whether the connection has written bytes that were not read yet (without waiting).</summary>
    public bool HasUnreadBytes()
    {
        if (!Pipe.Input.TryRead(out var result))
        {
            return false;
        }

        Pipe.Input.AdvanceTo(result.Buffer.Start);
        return !result.Buffer.IsEmpty;
    }
}
