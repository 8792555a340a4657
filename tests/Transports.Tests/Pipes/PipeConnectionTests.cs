using System;
using System.IO;
using System.IO.Pipelines;
using System.IO.Pipes;
using System.Text;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Pipes;
using Xunit;

namespace Rpc.Transports.Tests.Pipes;

/// <summary>PipeConnection over two anonymous pipes in one process: both ends are PipeConnections.</summary>
public sealed class PipeConnectionTests : TestBase
{
    // Keeps the stream objects alive for the whole test: the connections own the handles, the streams must not be finalized.
    private readonly System.Collections.Generic.List<Stream> _streams = [];

    private (TransportConnection A, TransportConnection B) CreatePair(Func<Exception?>? bEnd = null)
    {
        var aToB = new AnonymousPipeServerStream(PipeDirection.Out);
        var bToA = new AnonymousPipeServerStream(PipeDirection.In);
        var bRead = new AnonymousPipeClientStream(PipeDirection.In, aToB.ClientSafePipeHandle);
        var bWrite = new AnonymousPipeClientStream(PipeDirection.Out, bToA.ClientSafePipeHandle);
        _streams.AddRange([aToB, bToA, bRead, bWrite]);
        var a = PipeConnection.Start(bToA.SafePipeHandle, aToB.SafePipeHandle, TransportOptions.Default, "A's peer");
        var b = PipeConnection.Start(bRead.SafePipeHandle, bWrite.SafePipeHandle, TransportOptions.Default, "B's peer", bEnd);
        return (a, b);
    }

    [Fact]
    public async Task Bytes_cross_and_a_large_write_is_back_pressured_not_lost()
    {
        var (a, b) = CreatePair();
        await using (a)
        await using (b)
        {
            var payload = new byte[8 * 1024 * 1024];
            new Random(3).NextBytes(payload);
            var write = a.Transport.Output.WriteAsync(payload, TimeoutToken).AsTask();
            var received = await ReadExactlyAsync(b.Transport.Input, payload.Length);
            await Bounded(write);
            Assert.True(payload.AsSpan().SequenceEqual(received));
        }
    }

    [Fact]
    public async Task Completing_the_output_is_a_half_close_and_the_peer_explains_it()
    {
        var (a, b) = CreatePair(() => new IOException("peer ended, as the owner explains"));
        await using (a)
        await using (b)
        {
            // The reader is reading when the end arrives, as the runtime's receive loop always is: an explained end
            // completes the input with an exception, which a reader sees before any bytes still unread.
            var read = ReadExactlyAsync(b.Transport.Input, 4);
            await a.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("last"), TimeoutToken);
            Assert.Equal("last", Encoding.UTF8.GetString(await read));
            await a.Transport.Output.CompleteAsync();
            var error = await Assert.ThrowsAsync<IOException>(async () => await ReadToEndAsync(b.Transport.Input));
            Assert.Contains("as the owner explains", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Abort_wakes_a_blocked_read_at_once_with_the_reason()
    {
        var (a, b) = CreatePair();
        await using (b)
        {
            // Nothing was written, so the read is blocked from the start.
            var read = a.Transport.Input.ReadAsync(TimeoutToken).AsTask();
            Assert.False(read.IsCompleted);
            a.Abort(new InvalidOperationException("aborted here"));
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Bounded(read));
            Assert.Equal("aborted here", error.Message);
            await Bounded(a.DisposeAsync());

            // The peer sees the end of the stream: our descriptors are closed.
            var result = await Bounded(b.Transport.Input.ReadAsync(TimeoutToken));
            Assert.True(result.IsCompleted);
        }
    }

    [Fact]
    public async Task Dispose_is_a_clean_end_for_the_peer()
    {
        var (a, b) = CreatePair();
        await using (b)
        {
            await a.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("bye"), TimeoutToken);
            await Bounded(a.DisposeAsync());
            Assert.Equal("bye", Encoding.UTF8.GetString(await ReadToEndAsync(b.Transport.Input)));
        }
    }
}
