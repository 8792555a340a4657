using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Nerdbank.Streams;
using Rpc.Protocols.Binary;

namespace Rpc.Tests;

/// <summary>
/// Keepalive over an in-memory pipe on a fake clock: a hand-driven peer plays alive or dead, and no test waits in real
/// time for an interval.
/// </summary>
public sealed class KeepAliveTests : TestBase
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_ping_follows_an_idle_interval_and_an_answer_keeps_the_connection()
    {
        var (client, peer, time) = await StartBinaryAsync();
        await using var _ = client;

        // The first check finds the hello's exchange: nothing is sent.
        time.Advance(Interval);
        Assert.False(peer.HasUnreadBytes());
        time.Advance(Interval);
        var (kind, id) = await peer.ReadFrameAsync(TimeoutToken);
        Assert.Equal(FrameKind.Ping, kind);

        // A ping of the peer's own behind the pong: its answer shows the client has read the pong.
        await peer.WriteAsync([.. RawPeer.Frame(FrameKind.Pong, id), .. RawPeer.Frame(FrameKind.Ping, 2)], TimeoutToken);
        Assert.Equal((FrameKind.Pong, 2u), await peer.ReadFrameAsync(TimeoutToken));
        time.Advance(KeepAliveTimeout);

        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task No_answer_within_the_timeout_closes_with_the_reason_and_fails_pending_calls_at_once()
    {
        var (client, peer, time) = await StartBinaryAsync();
        await using var _ = client;
        var pending = client.CreateProxy<ITestService>().AddAsync(1, 2);
        Assert.Equal(FrameKind.Request, (await peer.ReadFrameAsync(TimeoutToken)).Kind);

        time.Advance(Interval);
        time.Advance(Interval);
        Assert.Equal(FrameKind.Ping, (await peer.ReadFrameAsync(TimeoutToken)).Kind);
        time.Advance(KeepAliveTimeout - TimeSpan.FromMilliseconds(1));
        Assert.True(client.IsConnected);
        time.Advance(TimeSpan.FromMilliseconds(1));

        // Closed on the timer's callback: the call has failed by the time Advance returns.
        Assert.True(pending.IsFaulted);
        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending);
        var reason = Assert.IsType<KeepAliveTimeoutException>(lost.InnerException);
        Assert.Same(reason, client.CloseReason);
        Assert.Contains("within 5 s of a keepalive ping", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Any_traffic_from_the_peer_counts_as_a_sign_of_life()
    {
        var (client, peer, time) = await StartBinaryAsync();
        await using var _ = client;

        for (uint round = 2; round < 6; round++)
        {
            await peer.WriteAsync(RawPeer.Frame(FrameKind.Ping, round), TimeoutToken);
            Assert.Equal((FrameKind.Pong, round), await peer.ReadFrameAsync(TimeoutToken));
            time.Advance(Interval);
            Assert.False(peer.HasUnreadBytes());
        }

        time.Advance(Interval);
        Assert.Equal(FrameKind.Ping, (await peer.ReadFrameAsync(TimeoutToken)).Kind);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_local_connection_sends_no_pings_by_default()
    {
        var time = new FakeTimeProvider();
        var (client, peer) = Start(new RpcConnectionOptions { TimeProvider = time });
        await using var _ = client;
        await peer.WriteAsync(BinaryHello.Before(RawPeer.Frame(FrameKind.Ping, 1)), TimeoutToken);
        await peer.ReadHelloAsync(TimeoutToken);
        Assert.Equal((FrameKind.Pong, 1u), await peer.ReadFrameAsync(TimeoutToken));

        time.Advance(TimeSpan.FromHours(1));

        Assert.False(peer.HasUnreadBytes());
        Assert.True(client.IsConnected);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:5000", 30)]
    [InlineData("TLS://example.com:443", 30)]
    [InlineData("unix:///tmp/a.sock", -1)]
    [InlineData("pipe://name", -1)]
    [InlineData("shm://name", -1)]
    [InlineData("pipe", -1)]
    public void The_default_interval_is_on_for_network_transports_only(string remoteEndpoint, int seconds)
    {
        var expected = seconds < 0 ? System.Threading.Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);

        Assert.Equal(expected, new RpcConnectionOptions().KeepAliveIntervalFor(remoteEndpoint));
        Assert.Equal(TimeSpan.FromSeconds(2), new RpcConnectionOptions { KeepAliveInterval = TimeSpan.FromSeconds(2) }.KeepAliveIntervalFor(remoteEndpoint));
        Assert.Equal(System.Threading.Timeout.InfiniteTimeSpan, new RpcConnectionOptions { KeepAliveInterval = System.Threading.Timeout.InfiniteTimeSpan }.KeepAliveIntervalFor(remoteEndpoint));
    }

    [Fact]
    public void A_keepalive_timeout_that_is_not_positive_and_finite_is_refused()
    {
        var (pipe, _) = FullDuplexStream.CreatePipePair();

        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => RpcConnection.Create(pipe, new RpcConnectionOptions { KeepAliveTimeout = TimeSpan.Zero }));
        var infinite = Assert.Throws<ArgumentOutOfRangeException>(() => RpcConnection.Create(pipe, new RpcConnectionOptions { KeepAliveTimeout = System.Threading.Timeout.InfiniteTimeSpan }));
        var interval = Assert.Throws<ArgumentOutOfRangeException>(() => RpcConnection.Create(pipe, new RpcConnectionOptions { KeepAliveInterval = TimeSpan.Zero }));

        Assert.Equal(nameof(RpcConnectionOptions.KeepAliveTimeout), zero.ParamName);
        Assert.Equal(nameof(RpcConnectionOptions.KeepAliveTimeout), infinite.ParamName);
        Assert.Equal(nameof(RpcConnectionOptions.KeepAliveInterval), interval.ParamName);
    }

    [Fact]
    public async Task Json_rpc_pings_with_rpc_ping_and_closes_when_nothing_answers()
    {
        var time = new FakeTimeProvider();
        var (client, peer) = Start(JsonOptions(time));
        await using var _ = client;
        var pending = client.CreateProxy<ITestService>().AddAsync(1, 2);
        await peer.ReadJsonMessageAsync(TimeoutToken);

        time.Advance(Interval);
        Assert.Equal("rpc.ping", JsonDocument.Parse(await peer.ReadJsonMessageAsync(TimeoutToken)).RootElement.GetProperty("method").GetString());
        time.Advance(KeepAliveTimeout);

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        var reason = Assert.IsType<KeepAliveTimeoutException>(lost.InnerException);
        Assert.Same(reason, client.CloseReason);
    }

    [Fact]
    public async Task Json_rpc_answers_rpc_ping_and_counts_any_reply_as_alive_an_error_from_a_foreign_peer_included()
    {
        var time = new FakeTimeProvider();
        var (client, peer) = Start(JsonOptions(time));
        await using var _ = client;

        time.Advance(Interval);
        using var ping = JsonDocument.Parse(await peer.ReadJsonMessageAsync(TimeoutToken));
        var id = ping.RootElement.GetProperty("id").GetRawText();
        await peer.WriteAsync(RawPeer.JsonMessage($$$"""{"jsonrpc":"2.0","id":{{{id}}},"error":{"code":-32601,"message":"Method not found"}}"""), TimeoutToken);

        // The peer pings too: the answer shows this side serves rpc.ping, and that it has read the error before it.
        await peer.WriteAsync(RawPeer.JsonMessage("""{"jsonrpc":"2.0","id":"peer-1","method":"rpc.ping"}"""), TimeoutToken);
        using var answer = JsonDocument.Parse(await peer.ReadJsonMessageAsync(TimeoutToken));
        Assert.Equal("peer-1", answer.RootElement.GetProperty("id").GetString());
        Assert.True(answer.RootElement.TryGetProperty("result", out var _));
        time.Advance(KeepAliveTimeout);

        Assert.True(client.IsConnected);
    }

    private static RpcConnectionOptions JsonOptions(FakeTimeProvider time) =>
        new() { Protocol = RpcProtocol.JsonRpc, TimeProvider = time, KeepAliveInterval = Interval, KeepAliveTimeout = KeepAliveTimeout };

    /// <summary>A binary client and a peer that has exchanged hellos with it (and a ping, so the hello is known read).</summary>
    private async Task<(RpcConnection Client, RawPeer Peer, FakeTimeProvider Time)> StartBinaryAsync()
    {
        var time = new FakeTimeProvider();
        var (client, peer) = Start(new RpcConnectionOptions { TimeProvider = time, KeepAliveInterval = Interval, KeepAliveTimeout = KeepAliveTimeout });
        await peer.WriteAsync(BinaryHello.Before(RawPeer.Frame(FrameKind.Ping, 1)), TimeoutToken);
        await peer.ReadHelloAsync(TimeoutToken);
        Assert.Equal((FrameKind.Pong, 1u), await peer.ReadFrameAsync(TimeoutToken));
        return (client, peer, time);
    }

    private static (RpcConnection Client, RawPeer Peer) Start(RpcConnectionOptions options)
    {
        var (pipe, peer) = FullDuplexStream.CreatePipePair();
        var client = RpcConnection.Create(pipe, options);
        client.Start();
        return (client, new RawPeer(peer));
    }
}
