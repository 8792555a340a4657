using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;
using Rpc.Transports.Internal.SharedMemory;
using Rpc.Transports.Tests.SharedMemory;
using Rpc.Transports.Tests.Tls;
using Xunit;

namespace Rpc.Transports.Tests;

/// <summary>
/// The accept loop runs handshakes (shm rendezvous, TLS) concurrently and bounds each by
/// <see cref="TransportOptions.HandshakeTimeout"/>: a silent or stopped client delays no other client and is closed at
/// its deadline.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandshakeConcurrencyTests : TestBase
{
    /// <summary>Long enough that a client served only after a stalled handshake ends fails every assertion below.</summary>
    private static readonly TimeSpan LongHandshakeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a second client may take to connect while another stalls its handshake: far below
    /// <see cref="LongHandshakeTimeout"/>, with room for a loaded 2-vCPU machine.
    /// </summary>
    private static readonly TimeSpan PromptConnect = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan ShortHandshakeTimeout = TimeSpan.FromSeconds(1);

    // .NET timers run on a coarse clock and may fire up to a tick (~1-16 ms) before a Stopwatch says the time is up.
    private static readonly TimeSpan TimerTick = TimeSpan.FromMilliseconds(20);

    public HandshakeConcurrencyTests()
        : base(TimeSpan.FromSeconds(20))
    {
    }

    [Fact]
    public async Task Shm_a_silent_client_does_not_delay_a_second_client_and_dispose_does_not_wait_for_it()
    {
        var name = ShmTestSupport.UniqueName("h");
        var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, new TransportOptions { HandshakeTimeout = LongHandshakeTimeout }, TimeoutToken));
        try
        {
            using var silent = await ConnectMidShmHandshakeAsync(name);

            var stopwatch = Stopwatch.StartNew();
            await AssertServedAsync(listener);
            Assert.True(stopwatch.Elapsed < PromptConnect, $"a second client waited {stopwatch.Elapsed} behind a silent one (handshake timeout {LongHandshakeTimeout})");

            // Disposing the listener cancels the silent client's handshake instead of waiting for its deadline.
            stopwatch.Restart();
            await Bounded(listener.DisposeAsync());
            Assert.True(stopwatch.Elapsed < PromptConnect, $"disposing the listener took {stopwatch.Elapsed} with a handshake pending");
            Assert.Equal(0, await ReceiveUntilClosedAsync(silent, skipOffer: true));
            Assert.Empty(ShmTestSupport.FilesOf(name));
        }
        finally
        {
            await listener.DisposeAsync();
        }
    }

    [Fact]
    public async Task Shm_a_SIGSTOPped_client_process_mid_handshake_does_not_delay_a_second_client()
    {
        var name = ShmTestSupport.UniqueName("h");
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, new TransportOptions { HandshakeTimeout = LongHandshakeTimeout }, TimeoutToken));

        // The peer has read the start of the server's offer when it says "ready": the server waits for its answer.
        using var stopped = await PeerProcess.StartAsync("rendezvous-connect", SharedMemoryName.RendezvousPath(name), TimeoutToken);
        try
        {
            stopped.Stop();
            var stopwatch = Stopwatch.StartNew();
            await AssertServedAsync(listener);
            Assert.True(stopwatch.Elapsed < PromptConnect, $"a second client waited {stopwatch.Elapsed} behind a stopped one (handshake timeout {LongHandshakeTimeout})");
        }
        finally
        {
            stopped.Continue();
        }
    }

    [Fact]
    public async Task Shm_a_silent_client_is_closed_at_the_handshake_timeout_and_its_segment_removed()
    {
        var name = ShmTestSupport.UniqueName("h");
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, new TransportOptions { HandshakeTimeout = ShortHandshakeTimeout }, TimeoutToken));
        var failure = HandshakeFailure(listener);
        // Started before connecting: the deadline starts at accept, after the connect.
        var stopwatch = Stopwatch.StartNew();
        using var silent = await ConnectMidShmHandshakeAsync(name);

        Assert.Equal(0, await ReceiveUntilClosedAsync(silent, skipOffer: true));
        Assert.InRange(stopwatch.Elapsed, ShortHandshakeTimeout - TimerTick, ShortHandshakeTimeout + PromptConnect);
        var error = await Bounded(failure);
        Assert.IsType<TimeoutException>(error);
        Assert.Contains("TransportOptions.HandshakeTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);

        // Only the rendezvous socket is left: the offered segment was unlinked with the connection.
        Assert.Equal([SharedMemoryName.RendezvousPath(name)], ShmTestSupport.FilesOf(name));
        await AssertServedAsync(listener);
    }

    [Fact]
    public async Task Tls_a_silent_client_does_not_delay_a_second_client()
    {
        var server = TestCertificates.ServerOptions();
        server.HandshakeTimeout = LongHandshakeTimeout;
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", new TransportOptions { Tls = server, HandshakeTimeout = LongHandshakeTimeout }, TimeoutToken));
        using var silent = await ConnectTcpAsync(listener);

        var stopwatch = Stopwatch.StartNew();
        await AssertServedAsync(listener, new TransportOptions { Tls = TestCertificates.ClientOptions() });
        Assert.True(stopwatch.Elapsed < PromptConnect, $"a second client waited {stopwatch.Elapsed} behind a silent one (handshake timeout {LongHandshakeTimeout})");
    }

    [Fact]
    public async Task Tls_a_silent_client_is_closed_at_the_transport_handshake_timeout()
    {
        // TlsOptions.HandshakeTimeout is long: the accept loop's own deadline closes the connection.
        var server = TestCertificates.ServerOptions();
        server.HandshakeTimeout = LongHandshakeTimeout;
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", new TransportOptions { Tls = server, HandshakeTimeout = ShortHandshakeTimeout }, TimeoutToken));
        var failure = HandshakeFailure(listener);
        // Started before connecting: the deadline starts at accept, after the connect.
        var stopwatch = Stopwatch.StartNew();
        using var silent = await ConnectTcpAsync(listener);

        Assert.Equal(0, await ReceiveUntilClosedAsync(silent, skipOffer: false));
        Assert.InRange(stopwatch.Elapsed, ShortHandshakeTimeout - TimerTick, ShortHandshakeTimeout + PromptConnect);
        var error = await Bounded(failure);
        Assert.IsType<TimeoutException>(error);
        Assert.Contains("TransportOptions.HandshakeTimeout", error.Message, StringComparison.Ordinal);
        await AssertServedAsync(listener, new TransportOptions { Tls = TestCertificates.ClientOptions() });
    }

    [Theory]
    [InlineData("shm", 0)]
    [InlineData("shm", -1)]
    [InlineData("tcp", 0)]
    public async Task HandshakeTimeout_must_be_positive_and_finite(string scheme, int milliseconds)
    {
        var endpoint = scheme == "shm" ? "shm://" + ShmTestSupport.UniqueName("h") : "tcp://127.0.0.1:0";
        var options = new TransportOptions { HandshakeTimeout = milliseconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(milliseconds) };
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => RpcTransports.ListenAsync(endpoint, options, TimeoutToken).AsTask());
        Assert.Contains("TransportOptions.HandshakeTimeout", error.Message, StringComparison.Ordinal);
    }

    private static Task<Exception> HandshakeFailure(TransportListener listener)
    {
        var failure = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        ((AcceptLoopListener)listener).HandshakeFailed += error => failure.TrySetResult(error);
        return failure.Task;
    }

    /// <summary>Connects to the rendezvous socket and waits for the server's offer, never answering it.</summary>
    private async Task<Socket> ConnectMidShmHandshakeAsync(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SharedMemoryName.RendezvousPath(name)), TimeoutToken);
            Assert.True(await socket.ReceiveAsync(new byte[1], SocketFlags.None, TimeoutToken) == 1, "the server sent no offer");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<Socket> ConnectTcpAsync(TransportListener listener)
    {
        var port = new Uri(listener.Endpoint.Replace("tls://", "http://", StringComparison.Ordinal)).Port;
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TimeoutToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads (discarding the rest of an shm offer) until the server closes; returns the last read's count.</summary>
    private async Task<int> ReceiveUntilClosedAsync(Socket socket, bool skipOffer)
    {
        var buffer = new byte[512];
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, TimeoutToken);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return 0;
            }

            if (read == 0 || !skipOffer)
            {
                return read;
            }
        }
    }

    /// <summary>A full client is accepted and bytes cross in both directions.</summary>
    private async Task AssertServedAsync(TransportListener listener, TransportOptions? options = null)
    {
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }, TimeoutToken);
            Assert.Equal(new byte[] { 1, 2, 3 }, await ReadExactlyAsync(server.Transport.Input, 3));
            await server.Transport.Output.WriteAsync(new byte[] { 4 }, TimeoutToken);
            Assert.Equal(new byte[] { 4 }, await ReadExactlyAsync(client.Transport.Input, 1));
        }
    }
}
