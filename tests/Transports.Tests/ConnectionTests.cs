using System;
using System.IO;
using System.IO.Pipelines;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using Xunit;

namespace Rpc.Transports.Tests;

public sealed class ConnectionTests : TestBase
{
    [Theory]
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task Echo_RoundTripsBytes(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
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
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task LargeTransfer_EchoesSixteenMiB(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            var payload = RandomBytes(16 * 1024 * 1024, seed: 1);
            var echo = Task.Run(() => EchoAsync(server.Transport, TimeoutToken));
            var send = Task.Run(() => WriteInChunksAsync(client.Transport.Output, payload, complete: true));
            var received = await Bounded(Task.Run(() => ReadToEndAsync(client.Transport.Input)));
            await Bounded(send);
            await Bounded(echo);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the echoed 16 MiB differ from what was sent");
        }
    }

    [Theory]
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task LargeTransfer_BothDirectionsAtOnce(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            var toServer = RandomBytes(16 * 1024 * 1024, seed: 2);
            var toClient = RandomBytes(16 * 1024 * 1024, seed: 3);
            var clientSend = Task.Run(() => WriteInChunksAsync(client.Transport.Output, toServer, complete: true));
            var serverSend = Task.Run(() => WriteInChunksAsync(server.Transport.Output, toClient, complete: true));
            var serverReceived = Task.Run(() => ReadToEndAsync(server.Transport.Input));
            var clientReceived = Task.Run(() => ReadToEndAsync(client.Transport.Input));
            await Bounded(Task.WhenAll(clientSend, serverSend, serverReceived, clientReceived));
            var atServer = await serverReceived;
            var atClient = await clientReceived;
            Assert.True(toServer.AsSpan().SequenceEqual(atServer), "client → server bytes differ");
            Assert.True(toClient.AsSpan().SequenceEqual(atClient), "server → client bytes differ");
        }
    }

    [Theory]
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task PeerDispose_CompletesReaderNormallyAfterTheLastBytes(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (server)
        {
            await client.Transport.Output.WriteAsync("last words"u8.ToArray(), TimeoutToken);
            await Bounded(client.DisposeAsync());

            Assert.Equal("last words"u8.ToArray(), await ReadToEndAsync(server.Transport.Input));
        }
    }

    [Theory]
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task CompletingOutput_HalfClosesSoThePeerCanStillAnswer(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            await client.Transport.Output.WriteAsync("request"u8.ToArray(), TimeoutToken);
            await client.Transport.Output.CompleteAsync();

            Assert.Equal("request"u8.ToArray(), await ReadToEndAsync(server.Transport.Input));
            await server.Transport.Output.WriteAsync("reply"u8.ToArray(), TimeoutToken);
            await server.Transport.Output.CompleteAsync();
            Assert.Equal("reply"u8.ToArray(), await ReadToEndAsync(client.Transport.Input));
        }
    }

    [Theory]
    [MemberData(nameof(TransportKinds.All), MemberType = typeof(TransportKinds))]
    public async Task Abort_FaultsPendingReadWithReasonAndThePeerSeesTheEnd(string kind)
    {
        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            var pendingRead = client.Transport.Input.ReadAsync(TimeoutToken).AsTask();
            var reason = new InvalidOperationException("protocol violation");
            client.Abort(reason);
            client.Abort(reason);

            var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => Bounded(pendingRead));
            Assert.Same(reason, thrown);

            // The peer learns the stream ended (orderly or reset, the OS decides); it must not hang.
            try
            {
                await ReadToEndAsync(server.Transport.Input);
            }
            catch (IOException)
            {
            }

            // Writes after an abort are not sent and do not throw from the transport.
            var flush = await client.Transport.Output.WriteAsync(new byte[10], TimeoutToken);
            Assert.True(flush.IsCompleted);
        }
    }

    [Fact]
    public async Task AbortWithoutReason_CompletesReaderNormally()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            client.Abort();
            Assert.Empty(await ReadToEndAsync(client.Transport.Input));
        }
    }

    [Fact]
    public async Task AbortAndDispose_Concurrently_AreSafeAndIdempotent()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        for (var i = 0; i < 50; i++)
        {
            var (client, server) = await ConnectPairAsync(listener);
            var dispose = Task.Run(async () => await client.DisposeAsync());
            client.Abort(new IOException("stop"));
            await Bounded(dispose);
            await Bounded(client.DisposeAsync());
            client.Abort();
            await Bounded(server.DisposeAsync());
        }
    }

    [Fact]
    public async Task PeerReset_FaultsReaderWithIOException()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("tcp://127.0.0.1:0", null, TimeoutToken));
        var port = new Uri(listener.Endpoint).Port;
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        using (var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            raw.Connect(new IPEndPoint(IPAddress.Loopback, port));
            await using var server = (await Bounded(accept))!;
            var read = Task.Run(() => ReadToEndAsync(server.Transport.Input));

            // SO_LINGER with a zero timeout turns close() into an abortive close: the kernel sends RST, not FIN.
            raw.LingerState = new LingerOption(true, 0);
            raw.Close();

            var error = await Assert.ThrowsAsync<IOException>(() => Bounded(read));
            Assert.IsType<SocketException>(error.InnerException);
            Assert.Contains("tcp://127.0.0.1", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SlowReader_AppliesBackPressureInsteadOfBufferingWithoutLimit()
    {
        var options = new TransportOptions { MaxBufferedInputBytes = 256 * 1024 };
        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            // Nobody reads the server's input: the client's writes must stop once the pipe and kernel buffers are full.
            var payload = new byte[64 * 1024 * 1024];
            var send = StartWrite(client.Transport.Output, payload, complete: false);
            // Once the server holds its limit it takes no more, and 64 MiB cannot fit in what is left (kernel buffers).
            await WaitUntilAsync(() => BufferedUnread(server.Transport.Input) >= options.MaxBufferedInputBytes);
            Assert.False(send.Completion.IsCompleted, "64 MiB went out although the reader buffers at most 256 KiB");
            Assert.InRange(BufferedUnread(server.Transport.Input), 0, options.MaxBufferedInputBytes + ReceiveSlack);

            // Reading resumes the flow.
            var received = 0L;
            while (received < payload.Length)
            {
                var result = await server.Transport.Input.ReadAsync(TimeoutToken);
                received += result.Buffer.Length;
                server.Transport.Input.AdvanceTo(result.Buffer.End);
            }

            await Bounded(send.Completion);
        }
    }

    internal static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    internal static Task WriteInChunksAsync(PipeWriter writer, byte[] payload, bool complete) => StartWrite(writer, payload, complete).Completion;
}
