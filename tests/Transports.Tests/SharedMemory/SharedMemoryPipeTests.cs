using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.SharedMemory;
using Xunit;

namespace Rpc.Transports.Tests.SharedMemory;

/// <summary>
/// The shared-memory connection implements the runtime's <see cref="PipeReader"/> and <see cref="PipeWriter"/> itself
/// (no <see cref="Pipe"/> in between): these pin down the pipe semantics the runtime relies on.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SharedMemoryPipeTests : TestBase
{
    public SharedMemoryPipeTests() => ShmTestSupport.EnsureRegistered();

    [Fact]
    public async Task SlowReader_AppliesBackPressureInsteadOfBufferingWithoutLimit()
    {
        var options = new TransportOptions { MaxBufferedInputBytes = 256 * 1024 };
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            // Nobody reads the server's input: the client's writes must stop once 256 KiB are buffered and the ring is full.
            var payload = ConnectionTests.RandomBytes(16 * 1024 * 1024, seed: 4);
            var send = StartWrite(client.Transport.Output, payload, complete: true);

            // Once the server holds its limit it takes no more from the ring, and 16 MiB cannot fit in the ring.
            await WaitUntilAsync(() => BufferedUnread(server.Transport.Input) >= options.MaxBufferedInputBytes);
            Assert.False(send.Completion.IsCompleted, "16 MiB went out although the reader buffers at most 256 KiB and the ring holds 1 MiB");
            Assert.InRange(BufferedUnread(server.Transport.Input), 0, options.MaxBufferedInputBytes + ReceiveSlack);

            // Reading resumes the flow, and every byte arrives in order.
            var received = await Bounded(Task.Run(() => ReadToEndAsync(server.Transport.Input)));
            await Bounded(send.Completion);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the bytes differ from what was sent");
        }
    }

    [Fact]
    public async Task FrameLargerThanTheRing_IsBufferedWhole_UntilTheReaderConsumesIt()
    {
        // The runtime examines a partial frame without consuming it until the whole frame is there: the reader's buffer must
        // grow past the ring (4 KiB here) instead of waiting for bytes that cannot arrive.
        var provider = new SharedMemoryTransportProvider(4096);
        var endpoint = RpcEndpoint.Parse("shm://" + ShmTestSupport.UniqueName());
        await using var listener = await Bounded(provider.ListenAsync(endpoint, TransportOptions.Default, TimeoutToken));
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        await using var client = await Bounded(provider.ConnectAsync(endpoint, TransportOptions.Default, TimeoutToken));
        await using var server = (await Bounded(accept))!;

        var frame = ConnectionTests.RandomBytes(1024 * 1024, seed: 5);
        var send = Task.Run(async () => await client.Transport.Output.WriteAsync(frame, TimeoutToken));
        var input = server.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(TimeoutToken);
            if (result.Buffer.Length >= frame.Length)
            {
                Assert.True(frame.AsSpan().SequenceEqual(result.Buffer.Slice(0, frame.Length).ToArray()), "the frame differs");
                input.AdvanceTo(result.Buffer.GetPosition(frame.Length));
                break;
            }

            Assert.False(result.IsCompleted);
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        await Bounded(send);
    }

    [Fact]
    public async Task PartialConsumption_KeepsTheRest_AndNothingExaminedReturnsAtOnce()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var input = server.Transport.Input;
            await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3, 4, 5 }, TimeoutToken);
            var first = await ReadAtLeastAsync(input, 5);

            // Consume two bytes, examine nothing more: the next read returns the other three without waiting.
            input.AdvanceTo(first.Buffer.GetPosition(2));
            var second = await input.ReadAsync(TimeoutToken);
            Assert.Equal(new byte[] { 3, 4, 5 }, second.Buffer.ToArray());

            // Examine everything, consume nothing: the next read waits for new bytes and returns old and new together.
            input.AdvanceTo(second.Buffer.Start, second.Buffer.End);
            // No byte is on its way, so nothing may complete it; a read that returned early anyway would lack the 6 below.
            var pending = input.ReadAsync(TimeoutToken);
            Assert.False(pending.IsCompleted, "a read after examining everything must wait for new bytes");
            await client.Transport.Output.WriteAsync(new byte[] { 6 }, TimeoutToken);
            var third = await Bounded(pending);
            Assert.Equal(new byte[] { 3, 4, 5, 6 }, third.Buffer.ToArray());
            input.AdvanceTo(third.Buffer.End);
        }
    }

    [Fact]
    public async Task CancelPendingRead_CompletesThePendingRead_OrTheNextOne_AndTheStreamGoesOn()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var input = server.Transport.Input;
            var pending = input.ReadAsync(TimeoutToken);
            input.CancelPendingRead();
            var cancelled = await Bounded(pending);
            Assert.True(cancelled.IsCanceled);
            input.AdvanceTo(cancelled.Buffer.End);

            // With no read pending, the next read is the cancelled one.
            input.CancelPendingRead();
            var next = await Bounded(input.ReadAsync(TimeoutToken));
            Assert.True(next.IsCanceled);
            input.AdvanceTo(next.Buffer.End);

            await client.Transport.Output.WriteAsync(new byte[] { 7 }, TimeoutToken);
            var data = await ReadAtLeastAsync(input, 1);
            Assert.False(data.IsCanceled);
            Assert.Equal(new byte[] { 7 }, data.Buffer.ToArray());
            input.AdvanceTo(data.Buffer.End);
        }
    }

    [Fact]
    public async Task ReadCancelledByItsToken_ThrowsOperationCanceled_AndTheStreamGoesOn()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var input = server.Transport.Input;
            using (var cancel = new CancellationTokenSource())
            {
                var pending = input.ReadAsync(cancel.Token).AsTask();
                await cancel.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded(pending));
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await input.ReadAsync(cancel.Token));
            }

            await client.Transport.Output.WriteAsync(new byte[] { 8, 9 }, TimeoutToken);
            Assert.Equal(new byte[] { 8, 9 }, await ReadExactlyAsync(input, 2));
        }
    }

    [Fact]
    public async Task ManySmallWritesWithoutFlush_ArriveInOrder()
    {
        // More than the writer's 64 KiB buffer is written before one flush: it spills into the ring or grows, in order.
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var payload = ConnectionTests.RandomBytes(3 * 1024 * 1024 + 17, seed: 6);
            var receive = Task.Run(() => ReadToEndAsync(server.Transport.Input));
            var output = client.Transport.Output;
            WriteInPieces(output, payload, 1000);
            await output.FlushAsync(TimeoutToken);
            await output.CompleteAsync();
            var received = await Bounded(receive);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the bytes differ from what was written");
        }
    }

    [Fact]
    public async Task UnflushedBytes_CountsEveryByteWrittenSinceTheLastFlush_IncludingThoseSpilledIntoTheRing()
    {
        // The runtime counts what it sends (rpc.connection.io) by UnflushedBytes before each flush, as a Pipe reports it.
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            // Over the writer's 16 KiB buffer, under the 1 MiB ring: most of it spills before the flush, without waiting.
            var payload = ConnectionTests.RandomBytes(200 * 1000, seed: 9);
            var receive = Task.Run(() => ReadToEndAsync(server.Transport.Input));
            var output = client.Transport.Output;
            Assert.True(output.CanGetUnflushedBytes);
            WriteInPieces(output, payload, 1000);
            Assert.Equal(payload.Length, output.UnflushedBytes);
            await output.FlushAsync(TimeoutToken);
            Assert.Equal(0, output.UnflushedBytes);

            WriteInPieces(output, payload.AsSpan(0, 10).ToArray(), 10);
            Assert.Equal(10, output.UnflushedBytes);
            await output.FlushAsync(TimeoutToken);
            await output.CompleteAsync();
            Assert.Equal(payload.Length + 10, (await Bounded(receive)).Length);
        }
    }

    [Fact]
    public async Task Complete_WhileAnotherThreadsFlushWaitsForSpace_SendsEverythingThenEnds()
    {
        // The server buffers at most 64 KiB and reads nothing yet, so the ring fills and the client's flush waits.
        var serverOptions = new TransportOptions { MaxBufferedInputBytes = 64 * 1024 };
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), serverOptions, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var payload = ConnectionTests.RandomBytes(4 * 1024 * 1024, seed: 7);
            var output = client.Transport.Output;
            // One write of it all: once the server holds its limit it takes no more, and 4 MiB cannot fit in the ring.
            var write = StartWrite(output, payload, complete: false, chunkSize: payload.Length);
            await WaitUntilAsync(() => BufferedUnread(server.Transport.Input) >= serverOptions.MaxBufferedInputBytes);
            Assert.False(write.Completion.IsCompleted, "the writer should wait for the full ring");

            // Completing from another thread must neither block nor cut the flush short.
            output.Complete();
            Assert.Throws<InvalidOperationException>(() => output.GetSpan());

            var received = await Bounded(Task.Run(() => ReadToEndAsync(server.Transport.Input)));
            await Bounded(write.Completion);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the bytes differ from what was sent");
        }
    }

    [Fact]
    public async Task WriterCompletedWithAnError_ResetsThePeer()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var peerRead = ReadToEndAsync(server.Transport.Input);
            client.Transport.Output.Complete(new InvalidOperationException("runtime failure"));
            var reset = await Assert.ThrowsAsync<IOException>(() => Bounded(peerRead));
            Assert.Contains("aborted", reset.Message, StringComparison.Ordinal);

            // Our own input sees the writer's error, as after an abort with that reason.
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await Bounded(client.Transport.Input.ReadAsync(TimeoutToken)));
        }
    }

    [Fact]
    public async Task RingSizeOption_IsTheListenersChoice()
    {
        // A 4 KiB ring and at most 64 KiB buffered: 512 KiB cannot all go out while the server reads nothing (with the
        // default 1 MiB ring they would). The client's own setting does not matter.
        var serverOptions = new TransportOptions { SharedMemoryRingSize = 4096, MaxBufferedInputBytes = 64 * 1024 };
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), serverOptions, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, new TransportOptions { SharedMemoryRingSize = 1 << 24 });
        await using (client)
        await using (server)
        {
            var payload = ConnectionTests.RandomBytes(512 * 1024, seed: 8);
            // Once the server holds its limit it takes no more, and the rest cannot fit in a 4 KiB ring.
            var write = StartWrite(client.Transport.Output, payload, complete: true);
            await WaitUntilAsync(() => BufferedUnread(server.Transport.Input) >= serverOptions.MaxBufferedInputBytes);
            Assert.False(write.Completion.IsCompleted, "512 KiB went out through a 4 KiB ring to a reader that buffers 64 KiB and reads nothing");

            var received = await Bounded(Task.Run(() => ReadToEndAsync(server.Transport.Input)));
            await Bounded(write.Completion);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the bytes differ from what was sent");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2048)]
    [InlineData(3 * 4096)]
    [InlineData(int.MaxValue)]
    public async Task RingSizeOption_OutsideTheRange_IsRejectedByListen(int ringSize)
    {
        var options = new TransportOptions { SharedMemoryRingSize = ringSize };
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), options, TimeoutToken));
        Assert.Contains("SharedMemoryRingSize", error.Message, StringComparison.Ordinal);
    }

    private static void WriteInPieces(PipeWriter output, byte[] payload, int pieceSize)
    {
        for (var offset = 0; offset < payload.Length; offset += pieceSize)
        {
            var length = Math.Min(pieceSize, payload.Length - offset);
            payload.AsSpan(offset, length).CopyTo(output.GetSpan(length));
            output.Advance(length);
        }
    }

    private async Task<ReadResult> ReadAtLeastAsync(PipeReader input, int count)
    {
        while (true)
        {
            var result = await Bounded(input.ReadAsync(TimeoutToken));
            if (result.Buffer.Length >= count || result.IsCompleted || result.IsCanceled)
            {
                return result;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
