using System;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Nerdbank.Streams;
using Rpc.Protocols.Binary;

namespace Rpc.Tests;

/// <summary>The binary protocol's hello: what each side sees when the peer speaks something else, another version, or nothing.</summary>
public sealed class HelloTests : TestBase
{
    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 400")]
    [InlineData("Content-Length: 52\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"hello\"}", "Content-Length: 52")]
    [InlineData("\0\u0001\u0002", "000102")]
    public async Task A_peer_that_does_not_speak_the_binary_protocol_fails_pending_calls_with_its_first_bytes_shown(string sent, string shown)
    {
        var (client, peer) = StartClient(new RpcConnectionOptions());
        await using var _ = client;
        var pending = client.CreateProxy<ITestService>().AddAsync(1, 2);

        await peer.WriteAsync(Encoding.ASCII.GetBytes(sent), TimeoutToken);

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(lost.InnerException);
        Assert.Same(reason, client.CloseReason);
        Assert.Contains("does not speak Rpc's binary protocol", reason.Message, StringComparison.Ordinal);
        Assert.Contains(shown, reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_of_an_unsupported_version_fails_with_both_versions_named()
    {
        var (client, peer) = StartClient(new RpcConnectionOptions());
        await using var _ = client;
        var hello = BinaryHello.Before();
        hello[4] = 0;

        await peer.WriteAsync(hello, TimeoutToken);

        await client.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(client.CloseReason);
        Assert.Contains("version 0 of Rpc's binary protocol; this side speaks versions 1 to 1", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_newer_peer_is_answered_in_this_sides_version()
    {
        var (client, peer) = StartClient(new RpcConnectionOptions());
        await using var _ = client;
        var hello = BinaryHello.Before(RawPeer.Frame(FrameKind.Ping, 7));
        hello[4] = 2;

        await peer.WriteAsync(hello, TimeoutToken);

        Assert.Equal(ProtocolHello.CurrentVersion, await peer.ReadHelloAsync(TimeoutToken));
        Assert.Equal((FrameKind.Pong, 7u), await peer.ReadFrameAsync(TimeoutToken));
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_silent_peer_is_cut_after_the_handshake_timeout()
    {
        var time = new FakeTimeProvider();
        var options = new RpcConnectionOptions { TimeProvider = time, Transport = { HandshakeTimeout = TimeSpan.FromSeconds(5) } };
        var (client, _) = StartClient(options);
        await using var __ = client;
        var pending = client.CreateProxy<ITestService>().AddAsync(1, 2);

        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.True(client.IsConnected);
        time.Advance(TimeSpan.FromSeconds(0.1));

        // Closed on the timer's callback: the pending call has failed by the time Advance returns.
        Assert.True(pending.IsFaulted);
        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending);
        var reason = Assert.IsType<RpcProtocolException>(lost.InnerException);
        Assert.Contains("no complete hello within 5 s (TransportOptions.HandshakeTimeout)", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_closing_in_the_middle_of_its_hello_is_a_lost_connection()
    {
        var (client, peer) = StartClient(new RpcConnectionOptions());
        await using var _ = client;

        await peer.WriteAsync(BinaryHello.Before()[..5], TimeoutToken);
        await peer.Pipe.Output.CompleteAsync();

        await client.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<ConnectionLostException>(client.CloseReason);
        Assert.Contains("in the middle of its hello (5 of 16 bytes", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_hello_goes_out_first_even_before_a_call_made_before_start()
    {
        var (pipe, peerPipe) = FullDuplexStream.CreatePipePair();
        await using var client = RpcConnection.Create(pipe);
        var peer = new RawPeer(peerPipe);

        client.CreateProxy<ITestService>().Notify("early");
        client.Start();

        Assert.Equal(ProtocolHello.CurrentVersion, await peer.ReadHelloAsync(TimeoutToken));
        Assert.Equal(FrameKind.Notification, (await peer.ReadFrameAsync(TimeoutToken)).Kind);
    }

    [Fact]
    public async Task A_json_rpc_client_of_a_binary_peer_and_the_binary_peer_both_fail_with_typed_errors()
    {
        var (jsonPipe, binaryPipe) = FullDuplexStream.CreatePipePair();
        await using var jsonClient = RpcConnection.Create(jsonPipe, new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc });
        await using var binaryServer = RpcConnection.Create(binaryPipe);
        binaryServer.AddService<ITestService>(new TestService());
        jsonClient.Start();
        binaryServer.Start();

        var pending = jsonClient.CreateProxy<ITestService>().AddAsync(1, 2);

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        await binaryServer.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(binaryServer.CloseReason);
        Assert.Contains("does not speak Rpc's binary protocol: it sent 436F6E74656E742D4C656E6774683A", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_binary_client_of_a_json_rpc_peer_fails_within_the_handshake_timeout_and_the_peer_sees_the_close()
    {
        var time = new FakeTimeProvider();
        var (binaryPipe, jsonPipe) = FullDuplexStream.CreatePipePair();
        await using var binaryClient = RpcConnection.Create(binaryPipe, new RpcConnectionOptions { TimeProvider = time });
        await using var jsonServer = RpcConnection.Create(jsonPipe, new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc });
        jsonServer.AddService<ITestService>(new TestService());
        jsonServer.Start();
        binaryClient.Start();
        var pending = binaryClient.CreateProxy<ITestService>().AddAsync(1, 2);

        // A JSON-RPC peer answers only requests it can parse: it never sends a hello.
        time.Advance(RpcConnectionOptions.Default.Transport.HandshakeTimeout);

        // Whichever side gives up first (the JSON-RPC side on the hello's bytes, or this side on the timeout), each ends
        // with a typed error, none waits on.
        await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        Assert.IsAssignableFrom<RpcException>(binaryClient.CloseReason);
        await jsonServer.Completion.WaitAsync(TimeoutToken);
        Assert.IsAssignableFrom<RpcException>(jsonServer.CloseReason);
    }

    private static (RpcConnection Client, RawPeer Peer) StartClient(RpcConnectionOptions options)
    {
        var (pipe, peer) = FullDuplexStream.CreatePipePair();
        var client = RpcConnection.Create(pipe, options);
        client.Start();
        return (client, new RawPeer(peer));
    }
}
