using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.Versioning;
using System.IO.Pipelines;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Transports.Internal.SharedMemory;
using Xunit;

namespace Rpc.Transports.Tests.SharedMemory;

[SupportedOSPlatform("linux")]
public sealed class SharedMemoryConnectionTests : TestBase
{
    public SharedMemoryConnectionTests() => ShmTestSupport.EnsureRegistered();

    [Fact]
    public async Task Echo_RoundTripsBytes()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var echo = EchoAsync(server.Transport, TimeoutToken);
            for (var i = 0; i < 100; i++)
            {
                var message = BitConverter.GetBytes(i);
                await client.Transport.Output.WriteAsync(message, TimeoutToken);
                Assert.Equal(message, await ReadExactlyAsync(client.Transport.Input, 4));
            }

            await client.Transport.Output.CompleteAsync();
            Assert.Empty(await ReadToEndAsync(client.Transport.Input));
            await Bounded(echo);
        }
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(4096)]
    public async Task LargeTransfer_EchoesSixteenMiB_ThroughASmallerRing(int ringBytes)
    {
        var provider = new SharedMemoryTransportProvider(ringBytes);
        var endpoint = RpcEndpoint.Parse("shm://" + ShmTestSupport.UniqueName());
        await using var listener = await Bounded(provider.ListenAsync(endpoint, TransportOptions.Default, TimeoutToken));
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        await using var client = await Bounded(provider.ConnectAsync(endpoint, TransportOptions.Default, TimeoutToken));
        await using var server = (await Bounded(accept))!;

        var payload = RandomBytes(16 * 1024 * 1024, seed: 1);
        var echo = Task.Run(() => EchoAsync(server.Transport, TimeoutToken));
        var send = Task.Run(() => WriteInChunksAsync(client.Transport.Output, payload));
        var received = await Bounded(Task.Run(() => ReadToEndAsync(client.Transport.Input)));
        await Bounded(send);
        await Bounded(echo);
        Assert.True(payload.AsSpan().SequenceEqual(received), "the echoed 16 MiB differ from what was sent");
    }

    [Fact]
    public async Task LargeTransfer_BothDirectionsAtOnce()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var toServer = RandomBytes(16 * 1024 * 1024, seed: 2);
            var toClient = RandomBytes(16 * 1024 * 1024, seed: 3);
            var clientSend = Task.Run(() => WriteInChunksAsync(client.Transport.Output, toServer));
            var serverSend = Task.Run(() => WriteInChunksAsync(server.Transport.Output, toClient));
            var serverReceived = Task.Run(() => ReadToEndAsync(server.Transport.Input));
            var clientReceived = Task.Run(() => ReadToEndAsync(client.Transport.Input));
            await Bounded(Task.WhenAll(clientSend, serverSend, serverReceived, clientReceived));
            var atServer = await serverReceived;
            var atClient = await clientReceived;
            Assert.True(toServer.AsSpan().SequenceEqual(atServer), "client → server bytes differ");
            Assert.True(toClient.AsSpan().SequenceEqual(atClient), "server → client bytes differ");
        }
    }

    [Fact]
    public async Task ManyClients_ShareOneName()
    {
        const int Clients = 16;
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var servers = Task.Run(async () =>
        {
            var echoes = new Task[Clients];
            var accepted = new TransportConnection[Clients];
            for (var i = 0; i < Clients; i++)
            {
                accepted[i] = (await listener.AcceptAsync(TimeoutToken))!;
                echoes[i] = EchoAsync(accepted[i].Transport, TimeoutToken);
            }

            await Task.WhenAll(echoes);
            foreach (var connection in accepted)
            {
                await connection.DisposeAsync();
            }
        });

        var clients = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            await using var client = await RpcTransports.ConnectAsync(listener.Endpoint, null, TimeoutToken);
            var payload = RandomBytes(100_000 + i, seed: 10 + i);
            var send = WriteInChunksAsync(client.Transport.Output, payload);
            var received = await ReadToEndAsync(client.Transport.Input);
            await send;
            Assert.True(payload.AsSpan().SequenceEqual(received), $"client {i} got someone else's bytes");
        })).ToArray();

        await Bounded(Task.WhenAll(clients));
        await Bounded(servers);
    }

    [Fact]
    public async Task PeerCompletesOutput_InputCompletesNormallyAfterEveryByte()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (server)
        {
            await using (client)
            {
                await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }, TimeoutToken);
                await client.Transport.Output.CompleteAsync();
                Assert.Equal(new byte[] { 1, 2, 3 }, await ReadToEndAsync(server.Transport.Input));

                // Half close: the server can still answer.
                await server.Transport.Output.WriteAsync(new byte[] { 4 }, TimeoutToken);
                await server.Transport.Output.CompleteAsync();
                Assert.Equal(new byte[] { 4 }, await ReadToEndAsync(client.Transport.Input));
            }
        }
    }

    [Fact]
    public async Task PeerDisposes_InputCompletesNormally()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (server)
        {
            var read = ReadToEndAsync(server.Transport.Input);
            await client.Transport.Output.WriteAsync(new byte[] { 9 }, TimeoutToken);
            await Bounded(client.DisposeAsync());
            Assert.Equal(new byte[] { 9 }, await Bounded(read));
            await Bounded(client.DisposeAsync());
        }
    }

    [Fact]
    public async Task Abort_FaultsLocalReadWithReason_PeerSeesReset_AndIsIdempotent()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var localRead = client.Transport.Input.ReadAsync(TimeoutToken).AsTask();
            var peerRead = ReadToEndAsync(server.Transport.Input);
            var reason = new InvalidOperationException("test abort");
            client.Abort(reason);
            client.Abort(new InvalidOperationException("second"));
            Assert.Same(reason, await Assert.ThrowsAsync<InvalidOperationException>(() => Bounded(localRead)));
            var reset = await Assert.ThrowsAsync<IOException>(() => Bounded(peerRead));
            Assert.Contains("aborted", reset.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AbortWithoutReason_CompletesLocalReadNormally_AndReleasesABlockedWriter()
    {
        // The server reads nothing and buffers at most 64 KiB, so the ring (1 MiB) fills and the client's writer blocks.
        var serverOptions = new TransportOptions { MaxBufferedInputBytes = 64 * 1024 };
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), serverOptions, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            var payload = new byte[8 * 1024 * 1024];
            var write = StartWrite(client.Transport.Output, payload, complete: false, chunkSize: payload.Length);
            await WaitUntilAsync(() => BufferedUnread(server.Transport.Input) >= serverOptions.MaxBufferedInputBytes);
            Assert.False(write.Completion.IsCompleted, "the writer should be blocked on the full ring");
            client.Abort();
            var result = await Bounded(client.Transport.Input.ReadAsync(TimeoutToken).AsTask());
            Assert.True(result.IsCompleted);
            await Bounded(Task.WhenAny(write.Completion)); // ends, with or without an exception
        }
    }

    [Fact]
    public async Task Dispose_IsIdempotentAndConcurrentWithAbort()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        var first = client.DisposeAsync().AsTask();
        client.Abort();
        await Bounded(Task.WhenAll(first, client.DisposeAsync().AsTask()));
        await Bounded(server.DisposeAsync());
        await Bounded(server.DisposeAsync());
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task WriteInChunksAsync(PipeWriter output, byte[] payload)
    {
        for (var offset = 0; offset < payload.Length; offset += 100_000)
        {
            await output.WriteAsync(payload.AsMemory(offset, Math.Min(100_000, payload.Length - offset)));
        }

        await output.CompleteAsync();
    }
}
