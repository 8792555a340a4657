using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;
using Rpc.Transports;
using Rpc.Transports.Internal.Tls;
using Xunit.Abstractions;

using Rpc.Transports.Tests.Tls;

namespace Rpc.Tests.Tls;

/// <summary>tls:// through the whole Rpc stack: RpcServer and RpcConnection, certificates, bad peers, leaks, latency.</summary>
public sealed class TlsRpcTests(ITestOutputHelper output) : TestBase
{
    /// <summary>How long a failure that should be "at once" may take on a loaded 2-core machine.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(3);


    [Fact]
    public async Task Calls_round_trip_over_tls()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions());
        await using var connection = await ConnectAsync(server, TestCertificates.ClientOptions());
        var service = connection.CreateProxy<ITestService>();

        Assert.Equal(42, await service.AddAsync(40, 2).WaitAsync(TimeoutToken));
        Assert.Equal("héllo tls", await service.EchoAsync("héllo tls").AsTask().WaitAsync(TimeoutToken));
        Assert.StartsWith("tls://127.0.0.1:", connection.RemoteEndpoint, StringComparison.Ordinal);
        Assert.StartsWith("tls://127.0.0.1:", Assert.Single(server.Connections).RemoteEndpoint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_16_MiB_payload_round_trips()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions());
        await using var connection = await ConnectAsync(server, TestCertificates.ClientOptions());
        var payload = new byte[16 * 1024 * 1024];
        Random.Shared.NextBytes(payload);

        var echoed = await connection.CreateProxy<ITestService>().EchoBytesAsync(payload).WaitAsync(TimeoutToken);

        Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echoed payload differs");
    }

    [Fact]
    public async Task A_certificate_for_another_host_is_rejected()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions());
        var tls = TestCertificates.ClientOptions();
        tls.TargetHost = "rpc.example.com";

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(server, tls));

        Assert.Contains("not valid for the host name 'rpc.example.com'", error.Message, StringComparison.Ordinal);
        await AssertStillServesAsync(server);
    }

    [Fact]
    public async Task An_untrusted_certificate_is_rejected()
    {
        // Signed by a CA that is neither in the system store nor in TrustedRoots.
        var serverTls = TestCertificates.ServerOptions();
        serverTls.ServerCertificate = TestCertificates.UntrustedServer;
        await using var server = await StartServerAsync(serverTls);

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(server, TestCertificates.ClientOptions()));
        Assert.Contains("not trusted", error.Message, StringComparison.Ordinal);

        // The system store does not know our test CA either: the default (no TrustedRoots) rejects the trusted one too.
        await using var trustedServer = await StartServerAsync(TestCertificates.ServerOptions());
        error = await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(trustedServer, new TlsOptions()));
        Assert.Contains("not trusted", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_extra_validation_callback_can_reject_but_not_accept()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions());
        var pinned = TestCertificates.ClientOptions();
        pinned.RemoteCertificateValidation = (certificate, _) => certificate.Thumbprint == TestCertificates.Server.Thumbprint;
        await using (var connection = await ConnectAsync(server, pinned))
        {
            Assert.Equal(3, await connection.CreateProxy<ITestService>().AddAsync(1, 2).WaitAsync(TimeoutToken));
        }

        var rejecting = TestCertificates.ClientOptions();
        rejecting.RemoteCertificateValidation = (_, _) => false;
        var error = await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(server, rejecting));
        Assert.Contains("RemoteCertificateValidation rejected", error.Message, StringComparison.Ordinal);

        // Returning true does not override the built-in validation.
        var untrusting = new TlsOptions { RemoteCertificateValidation = (_, _) => true };
        await Assert.ThrowsAsync<AuthenticationException>(() => ConnectAsync(server, untrusting));
    }

    [Fact]
    public async Task A_required_client_certificate_that_is_missing_or_untrusted_is_rejected()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions(requireClientCertificate: true));

        await AssertRejectedAsync(server, TestCertificates.ClientOptions());
        await AssertRejectedAsync(server, TestCertificates.ClientOptions(TestCertificates.UntrustedClient));
        Assert.Empty(server.Connections);
        await AssertStillServesAsync(server, TestCertificates.ClientOptions(TestCertificates.Client));
    }

    [Fact]
    public async Task A_trusted_client_certificate_is_accepted()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions(requireClientCertificate: true));
        await using var connection = await ConnectAsync(server, TestCertificates.ClientOptions(TestCertificates.Client));

        Assert.Equal(7, await connection.CreateProxy<ITestService>().AddAsync(3, 4).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_plaintext_client_against_a_tls_server_fails_fast_and_others_are_unaffected()
    {
        await using var server = await StartServerAsync(TestCertificates.ServerOptions());
        var port = new Uri(server.Endpoints[0].Replace("tls://", "http://", StringComparison.Ordinal)).Port;
        var stopwatch = Stopwatch.StartNew();

        // The TCP connect succeeds (the server accepts before it knows the protocol); the first call is refused.
        await using var plain = await RpcConnection.ConnectAsync($"tcp://127.0.0.1:{port}", cancellationToken: TimeoutToken);
        await Assert.ThrowsAsync<ConnectionLostException>(() => plain.CreateProxy<ITestService>().AddAsync(1, 2).WaitAsync(TimeoutToken));

        Assert.True(stopwatch.Elapsed < Fast, $"the plaintext client failed after {stopwatch.Elapsed}");
        await AssertStillServesAsync(server);
    }

    [Fact]
    public async Task A_tls_client_against_a_plaintext_server_is_refused_at_once()
    {
        await using var server = new RpcServer().AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var endpoint = await server.ListenAsync("tcp://127.0.0.1:0", TimeoutToken);
        var tls = TestCertificates.ClientOptions();
        tls.HandshakeTimeout = TimeSpan.FromSeconds(20);
        var stopwatch = Stopwatch.StartNew();

        // The ClientHello's first byte (0x16) is neither protocol's: the server closes the connection instead of waiting.
        var error = await Assert.ThrowsAsync<System.Security.Authentication.AuthenticationException>(() => RpcConnection.ConnectAsync(
            endpoint.Replace("tcp://", "tls://", StringComparison.Ordinal), Options(tls), TimeoutToken));

        Assert.True(stopwatch.Elapsed < Fast, $"the TLS client failed after {stopwatch.Elapsed}");
        Assert.Contains("the peer closed the connection during the handshake", error.Message, StringComparison.Ordinal);
        await WaitUntilAsync(() => !refusals.IsEmpty);
        Assert.Contains("its first bytes are 16", Assert.IsType<RpcProtocolException>(Assert.Single(refusals)).Message, StringComparison.Ordinal);
        Assert.Empty(server.Connections);
    }

    [Fact]
    public async Task A_silent_client_does_not_block_others_and_is_dropped_after_the_handshake_timeout()
    {
        var tls = TestCertificates.ServerOptions();
        tls.HandshakeTimeout = TimeSpan.FromSeconds(2);
        await using var server = await StartServerAsync(tls);
        var port = new Uri(server.Endpoints[0].Replace("tls://", "http://", StringComparison.Ordinal)).Port;
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TimeoutToken);
        var stopwatch = Stopwatch.StartNew();

        for (var i = 0; i < 5; i++)
        {
            await using var connection = await ConnectAsync(server, TestCertificates.ClientOptions());
            Assert.Equal(i, await connection.CreateProxy<ITestService>().AddAsync(i, 0).WaitAsync(TimeoutToken));
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"five clients took {stopwatch.Elapsed} behind a silent one");
        int read;
        try
        {
            read = await silent.ReceiveAsync(new byte[16], SocketFlags.None, TimeoutToken);
        }
        catch (SocketException)
        {
            read = 0;
        }

        Assert.Equal(0, read);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2) + Fast);
    }

    private static RpcConnectionOptions Options(TlsOptions? tls) => new() { Transport = { Tls = tls } };

    private async Task<RpcServer> StartServerAsync(TlsOptions tls)
    {
        var server = new RpcServer(new RpcServerOptions { Connection = { Transport = { Tls = tls } } }).AddService<ITestService>(new TestService());
        await server.ListenAsync("tls://127.0.0.1:0", TimeoutToken);
        return server;
    }

    private Task<RpcConnection> ConnectAsync(RpcServer server, TlsOptions tls) =>
        RpcConnection.ConnectAsync(server.Endpoints[0], Options(tls), TimeoutToken);

    /// <summary>
    /// A rejected client fails at connect or, with TLS 1.3 (where the client finishes its handshake before the server
    /// has checked its certificate), on its first call: either way quickly, never by hanging.
    /// </summary>
    private async Task AssertRejectedAsync(RpcServer server, TlsOptions tls)
    {
        var stopwatch = Stopwatch.StartNew();
        try
        {
            await using var connection = await ConnectAsync(server, tls);
            await connection.CreateProxy<ITestService>().AddAsync(1, 2).WaitAsync(TimeoutToken);
            Assert.Fail("A client without a trusted certificate was served.");
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or ConnectionLostException)
        {
            output.WriteLine($"rejected after {stopwatch.Elapsed.TotalMilliseconds:F0} ms: {ex.GetType().Name}: {ex.Message}");
        }

        Assert.True(stopwatch.Elapsed < Fast, $"the rejection took {stopwatch.Elapsed}");
    }

    private async Task AssertStillServesAsync(RpcServer server, TlsOptions? tls = null)
    {
        await using var connection = await ConnectAsync(server, tls ?? TestCertificates.ClientOptions());
        Assert.Equal(5, await connection.CreateProxy<ITestService>().AddAsync(2, 3).WaitAsync(TimeoutToken));
    }
}

/// <summary>Counts descriptors and threads of the whole process, so it runs alone (see <see cref="ResourceCountingCollection"/>).</summary>
[Collection(ResourceCountingCollection.Name)]
public sealed class TlsResourceTests : TestBase
{

    [Fact]
    public async Task Tls_connections_return_fds_and_threads_to_baseline()
    {
        await using var server = new RpcServer(new RpcServerOptions { Connection = { Transport = { Tls = TestCertificates.ServerOptions() } } })
            .AddService<ITestService>(new TestService());
        var endpoint = await server.ListenAsync("tls://127.0.0.1:0", TimeoutToken);
        var options = new RpcConnectionOptions { Transport = { Tls = TestCertificates.ClientOptions() } };

        await CycleAsync(endpoint, options, 20);
        await WaitUntilAsync(() => server.Connections.Count == 0);
        var baseline = ResourceCounts.Take();

        await CycleAsync(endpoint, options, 200);
        await WaitUntilAsync(() => server.Connections.Count == 0);

        await ResourceCounts.WaitUntilBackToAsync(baseline, TimeoutToken);
    }

    private async Task CycleAsync(string endpoint, RpcConnectionOptions options, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            await using var connection = await RpcConnection.ConnectAsync(endpoint, options, TimeoutToken);
            Assert.Equal(i + 1, await connection.CreateProxy<ITestService>().AddAsync(i, 1).WaitAsync(TimeoutToken));
        }
    }
}
