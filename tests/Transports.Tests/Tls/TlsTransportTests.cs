using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;
using Xunit;

namespace Rpc.Transports.Tests.Tls;

/// <summary>tls:// at the transport level: bytes, lifecycle, bad peers. Rpc-level tests live in tests/Runtime.Tests/Tls.</summary>
public sealed class TlsTransportTests : TestBase
{

    private static TransportOptions ServerOptions(bool requireClientCertificate = false, TimeSpan? handshakeTimeout = null)
    {
        var tls = TestCertificates.ServerOptions(requireClientCertificate);
        tls.HandshakeTimeout = handshakeTimeout ?? tls.HandshakeTimeout;
        return new TransportOptions { Tls = tls };
    }

    private static TransportOptions ClientOptions(TimeSpan? handshakeTimeout = null)
    {
        var tls = TestCertificates.ClientOptions();
        tls.HandshakeTimeout = handshakeTimeout ?? tls.HandshakeTimeout;
        return new TransportOptions { Tls = tls };
    }

    [Fact]
    public async Task Listening_without_a_server_certificate_is_a_clear_error()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RpcTransports.ListenAsync("tls://127.0.0.1:0", new TransportOptions(), TimeoutToken).AsTask());
        Assert.Contains("TransportOptions.Tls.ServerCertificate", error.Message, StringComparison.Ordinal);

        var noKey = new TransportOptions { Tls = new TlsOptions { ServerCertificate = TestCertificates.TrustedRoots[0] } };
        error = await Assert.ThrowsAsync<InvalidOperationException>(() => RpcTransports.ListenAsync("tls://127.0.0.1:0", noKey, TimeoutToken).AsTask());
        Assert.Contains("private key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bytes_round_trip_and_a_clean_close_completes_the_input()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(), TimeoutToken));
        Assert.StartsWith("tls://127.0.0.1:", listener.Endpoint, StringComparison.Ordinal);
        var (client, server) = await ConnectPairAsync(listener, ClientOptions());
        await using (client)
        await using (server)
        {
            Assert.StartsWith("tls://127.0.0.1:", server.RemoteEndpoint, StringComparison.Ordinal);
            var echo = EchoAsync(server.Transport, TimeoutToken);
            await client.Transport.Output.WriteAsync("hello tls"u8.ToArray(), TimeoutToken);
            Assert.Equal("hello tls"u8.ToArray(), await ReadExactlyAsync(client.Transport.Input, 9));

            // Our completed output reaches the peer as close_notify + FIN; its echo loop ends and closes its side too.
            await client.Transport.Output.CompleteAsync();
            Assert.Empty(await ReadToEndAsync(client.Transport.Input));
            await Bounded(echo);
        }
    }

    [Fact]
    public async Task A_16_MiB_payload_round_trips_with_back_pressure()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(), TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, ClientOptions());
        await using (client)
        await using (server)
        {
            var payload = new byte[16 * 1024 * 1024];
            Random.Shared.NextBytes(payload);
            var echo = EchoAsync(server.Transport, TimeoutToken);
            var send = Task.Run(async () =>
            {
                for (var offset = 0; offset < payload.Length; offset += 1024 * 1024)
                {
                    await client.Transport.Output.WriteAsync(payload.AsMemory(offset, 1024 * 1024), TimeoutToken);
                }

                await client.Transport.Output.CompleteAsync();
            });
            var received = await Bounded(ReadToEndAsync(client.Transport.Input));
            await Bounded(send);
            await Bounded(echo);
            Assert.True(payload.AsSpan().SequenceEqual(received), "the echoed payload differs");
        }
    }

    [Fact]
    public async Task Abort_completes_the_peers_input_and_is_idempotent()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(), TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, ClientOptions());
        await using (client)
        await using (server)
        {
            var reason = new IOException("gone");
            client.Abort(reason);
            client.Abort();
            var local = await Assert.ThrowsAsync<IOException>(async () => await client.Transport.Input.ReadAsync(TimeoutToken));
            Assert.Same(reason, local);

            // The peer sees the stream end, cleanly or as an IOException: never a hang.
            try
            {
                await ReadToEndAsync(server.Transport.Input);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task A_silent_client_does_not_delay_others_and_is_dropped_after_the_handshake_timeout()
    {
        var timeout = TimeSpan.FromSeconds(1.5);
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(handshakeTimeout: timeout), TimeoutToken));
        var failures = new ConcurrentQueue<Exception>();
        ((AcceptLoopListener)listener).HandshakeFailed += failures.Enqueue;
        var port = new Uri(listener.Endpoint.Replace("tls://", "http://", StringComparison.Ordinal)).Port;

        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TimeoutToken);
        var stopwatch = Stopwatch.StartNew();

        // Another client is served while the silent one holds its handshake.
        var (client, server) = await ConnectPairAsync(listener, ClientOptions());
        Assert.True(stopwatch.Elapsed < timeout, $"a good client waited {stopwatch.Elapsed} behind a silent one");
        await client.DisposeAsync();
        await server.DisposeAsync();

        // The silent client is dropped once its deadline passes: it reads end-of-stream (or a reset).
        var buffer = new byte[16];
        int read;
        try
        {
            read = await silent.ReceiveAsync(buffer, SocketFlags.None, TimeoutToken);
        }
        catch (SocketException)
        {
            read = 0;
        }

        Assert.Equal(0, read);
        Assert.InRange(stopwatch.Elapsed, timeout - TimeSpan.FromMilliseconds(200), timeout + TimeSpan.FromSeconds(3));
        await WaitUntilAsync(() => !failures.IsEmpty);
        Assert.Contains(failures, e => e is TimeoutException && e.Message.Contains("HandshakeTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plaintext_client_is_dropped_at_once_without_affecting_others()
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(), TimeoutToken));
        var failures = new ConcurrentQueue<Exception>();
        ((AcceptLoopListener)listener).HandshakeFailed += failures.Enqueue;
        var port = new Uri(listener.Endpoint.Replace("tls://", "http://", StringComparison.Ordinal)).Port;

        await using var plain = await Bounded(RpcTransports.ConnectAsync($"tcp://127.0.0.1:{port}", cancellationToken: TimeoutToken));
        var stopwatch = Stopwatch.StartNew();

        // An Rpc binary frame: [u32 length][kind]…, whose first byte starts no TLS record.
        await plain.Transport.Output.WriteAsync(new byte[] { 9, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0 }, TimeoutToken);
        try
        {
            Assert.Empty(await ReadToEndAsync(plain.Transport.Input));
        }
        catch (IOException)
        {
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"the plaintext client was dropped after {stopwatch.Elapsed}");
        await WaitUntilAsync(() => !failures.IsEmpty);
        var failure = Assert.Single(failures);
        Assert.IsType<AuthenticationException>(failure);
        Assert.Contains("did not speak TLS", failure.Message, StringComparison.Ordinal);

        var (client, server) = await ConnectPairAsync(listener, ClientOptions());
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_tls_client_against_a_silent_plaintext_server_times_out_with_a_clear_error()
    {
        await using var plain = await Bounded(RpcTransports.ListenAsync("tcp://127.0.0.1:0", cancellationToken: TimeoutToken));
        var accept = plain.AcceptAsync(TimeoutToken).AsTask();
        var endpoint = plain.Endpoint.Replace("tcp://", "tls://", StringComparison.Ordinal);
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TimeoutException>(() => RpcTransports.ConnectAsync(endpoint, ClientOptions(TimeSpan.FromSeconds(1)), TimeoutToken).AsTask());

        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(4));
        Assert.Contains("plain tcp://", error.Message, StringComparison.Ordinal);
        await using var server = await Bounded(accept);
        var received = await ReadToEndAsync(server!.Transport.Input);
        Assert.Equal(0x16, received[0]); // a TLS handshake record: the ClientHello, left unanswered
    }

    [Fact]
    public async Task A_tls_client_against_a_plaintext_server_that_answers_fails_at_once()
    {
        await using var plain = await Bounded(RpcTransports.ListenAsync("tcp://127.0.0.1:0", cancellationToken: TimeoutToken));
        var serve = Task.Run(async () =>
        {
            await using var server = await plain.AcceptAsync(TimeoutToken);
            await server!.Transport.Output.WriteAsync(new byte[] { 9, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0 }, TimeoutToken);
            try
            {
                await ReadToEndAsync(server.Transport.Input);
            }
            catch (IOException)
            {
            }
        });
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => RpcTransports.ConnectAsync(plain.Endpoint.Replace("tcp://", "tls://", StringComparison.Ordinal), ClientOptions(), TimeoutToken).AsTask());

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"failed after {stopwatch.Elapsed}");
        Assert.Contains("did not speak TLS", error.Message, StringComparison.Ordinal);
        await Bounded(serve);
    }

    [Fact]
    public async Task Connect_and_disconnect_cycles_return_fds_and_threads_to_baseline()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var listener = await Bounded(RpcTransports.ListenAsync("tls://127.0.0.1:0", ServerOptions(), TimeoutToken));
        await CycleAsync(listener, 20);
        var baseline = await SettledAsync(int.MaxValue, int.MaxValue);

        await CycleAsync(listener, 200);

        var after = await SettledAsync(baseline.Fds, baseline.Threads + 4);
        Assert.True(after.Fds <= baseline.Fds, $"file descriptors: {baseline.Fds} before, {after.Fds} after 200 cycles");
        Assert.True(after.Threads <= baseline.Threads + 4, $"threads: {baseline.Threads} before, {after.Threads} after 200 cycles");
    }

    private async Task CycleAsync(TransportListener listener, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            var (client, server) = await ConnectPairAsync(listener, ClientOptions());
            await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }, TimeoutToken);
            await ReadExactlyAsync(server.Transport.Input, 3);
            await Bounded(Task.WhenAll(client.DisposeAsync().AsTask(), server.DisposeAsync().AsTask()));
        }
    }
}
