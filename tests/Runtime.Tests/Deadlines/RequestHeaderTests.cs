using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;
using Rpc.Runtime;

namespace Rpc.Tests.Deadlines;

/// <summary>The optional request header on the wire: exact bytes, skipped fields, malformed headers.</summary>
public sealed class RequestHeaderTests : TestBase
{
    private static readonly uint EchoId = RpcMethod.ComputeId("Echo");

    [Fact]
    public async Task A_request_without_a_deadline_is_the_same_bytes_as_before_headers_existed()
    {
        var frame = await CaptureFirstFrameAsync(new RpcConnectionOptions(), expectedLength: 4 + 11);

        // [u32 length 11][kind 1 = Request][u32 id 1][u32 method id][MessagePack [7]]
        byte[] expected = [11, 0, 0, 0, 1, 1, 0, 0, 0, .. LittleEndian(EchoId), 0x91, 0x07];
        Assert.Equal(expected, frame);
    }

    [Fact]
    public async Task A_request_with_a_deadline_carries_the_remaining_time_in_microseconds()
    {
        var frame = await CaptureFirstFrameAsync(new RpcConnectionOptions { DefaultCallTimeout = TimeSpan.FromSeconds(2) }, expectedLength: 4 + 11 + 13);

        // Kind flagged 0x80, then after the method id: [u16 header length 11][tag 1][u16 8][u64 2 000 000 µs]
        // (a timeout from the options is sent as it is; the clock is read only for a scope's absolute deadline).
        byte[] expected =
        [
            24, 0, 0, 0, 0x81, 1, 0, 0, 0, .. LittleEndian(EchoId),
            11, 0, 1, 8, 0, 0x80, 0x84, 0x1E, 0, 0, 0, 0, 0,
            0x91, 0x07,
        ];

        Assert.Equal(expected, frame);
    }

    [Fact]
    public async Task Unknown_and_trace_fields_are_skipped()
    {
        await using var pair = ConnectedPair.Create(startClient: false);
        byte[] header =
        [
            0x02, 0x02, 0x00, (byte)'0', (byte)'0', // traceparent "00" (not used yet)
            0x09, 0x03, 0x00, 0xAA, 0xBB, 0xCC, // a field of a newer peer
            0x01, 0x08, 0x00, 0x40, 0x42, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, // deadline 1 s
        ];

        await pair.ClientPipe.Output.WriteAsync(RequestFrame(id: 1, header, [0x91, 0xA2, (byte)'h', (byte)'i']), TimeoutToken);

        await SkipHelloAsync(pair.ClientPipe.Input);
        var reply = await ReadFrameAsync(pair.ClientPipe.Input);
        Assert.Equal(4, reply[4]); // Response
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(5)));
        Assert.Equal(new byte[] { 0xA2, (byte)'h', (byte)'i' }, reply[9..]);
    }

    [Theory]
    [InlineData(new byte[] { 0x01 }, "too short")]
    [InlineData(new byte[] { 0x09, 0x00, 0x01 }, "bytes left")]
    [InlineData(new byte[] { 0x02, 0x00, 0x01, 0x00 }, "cut short")]
    [InlineData(new byte[] { 0x04, 0x00, 0x05, 0x09, 0x00, 0x00 }, "overruns")]
    [InlineData(new byte[] { 0x07, 0x00, 0x01, 0x04, 0x00, 0x01, 0x02, 0x03, 0x04 }, "a deadline is 8")]
    public async Task A_malformed_header_disconnects_with_a_protocol_error(byte[] header, string expected)
    {
        await using var pair = ConnectedPair.Create(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(RequestFrame(id: 1, header, [], withLength: false), TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains(expected, reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_flag_on_a_reply_disconnects_with_a_protocol_error()
    {
        await using var pair = ConnectedPair.Create(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(new byte[] { 5, 0, 0, 0, 0x84, 1, 0, 0, 0 }, TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains("only requests carry", reason.Message, StringComparison.Ordinal);
    }

    private static byte[] LittleEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>A flagged Echo request; <paramref name="withLength"/> prefixes the header with its u16 length.</summary>
    private static byte[] RequestFrame(uint id, byte[] header, byte[] payload, bool withLength = true)
    {
        byte[] headerBytes = withLength ? [(byte)header.Length, (byte)(header.Length >> 8), .. header] : header;
        byte[] body = [0x81, .. LittleEndian(id), .. LittleEndian(EchoId), .. headerBytes, .. payload];
        return [.. LittleEndian((uint)body.Length), .. body];
    }

    private async Task<byte[]> CaptureFirstFrameAsync(RpcConnectionOptions options, int expectedLength)
    {
        var (clientPipe, peerPipe) = FullDuplexStream.CreatePipePair();
        await using var client = RpcConnection.Create(clientPipe, options);
        client.Start();
        await peerPipe.Output.WriteAsync(BinaryHello.Before(), TimeoutToken);

        _ = client.CreateProxy<IDeadlineService>().EchoAsync(7);
        await SkipHelloAsync(peerPipe.Input);
        return (await ReadFrameAsync(peerPipe.Input))[..expectedLength];
    }

    /// <summary>Passes over the hello a binary connection sends before its first frame.</summary>
    private async Task SkipHelloAsync(PipeReader input)
    {
        while (true)
        {
            var result = await input.ReadAsync(TimeoutToken);
            if (result.Buffer.Length >= Rpc.Protocols.Binary.ProtocolHello.Size)
            {
                input.AdvanceTo(result.Buffer.GetPosition(Rpc.Protocols.Binary.ProtocolHello.Size));
                return;
            }

            Assert.False(result.IsCompleted, "The peer closed before its hello.");
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private async Task<byte[]> ReadFrameAsync(PipeReader input)
    {
        while (true)
        {
            var result = await input.ReadAsync(TimeoutToken);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                var prefix = new byte[4];
                buffer.Slice(0, 4).CopyTo(prefix);
                var length = 4 + (long)BinaryPrimitives.ReadUInt32LittleEndian(prefix);
                if (buffer.Length >= length)
                {
                    var frame = buffer.Slice(0, length).ToArray();
                    input.AdvanceTo(buffer.GetPosition(length));
                    return frame;
                }
            }

            Assert.False(result.IsCompleted, "The peer closed before a whole frame arrived.");
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
