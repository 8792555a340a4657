using System;
using System.Buffers;
using System.Diagnostics;
using System.IO;
using System.IO.Pipelines;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;
using Rpc.Transports;

namespace Rpc.Tests.Server;

/// <summary>
/// One server endpoint, both protocols: the server tells a binary client from a JSON-RPC one by the first byte it sends,
/// serves only binary unless told otherwise, refuses the protocol an endpoint does not serve, and closes a client that speaks neither or says nothing, without
/// disturbing the others.
/// </summary>
public sealed class ProtocolSniffingTests : TestBase
{
    [Fact]
    public async Task Every_endpoint_of_one_server_process_serves_binary_our_json_client_and_raw_json_bytes_side_by_side()
    {
        var transports = TestEndpoints.Transports;
        await using var server = await ServerProcess.StartAsync(
            transports.Select(t => TestEndpoints.Create(t)), arguments: TestEndpoints.HostArguments("tls"), cancellationToken: TimeoutToken);

        for (var i = 0; i < transports.Count; i++)
        {
            var (transport, endpoint) = (transports[i], server.Endpoints[i]);
            await using var binary = await ConnectAsync(endpoint, transport, RpcProtocol.Binary);
            await using var json = await ConnectAsync(endpoint, transport, RpcProtocol.JsonRpc);
            await using var raw = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport(transport), TimeoutToken);

            // All three at once on the same endpoint, each answered in its own protocol.
            var binaryCall = binary.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken);
            var jsonCall = json.CreateProxy<ITestService>().AddAsync(20, 22, TimeoutToken);
            await WriteJsonAsync(raw.Transport.Output, """{"jsonrpc":"2.0","id":7,"method":"Add","params":[300,33]}""");

            Assert.Equal(3, await binaryCall.WaitAsync(TimeoutToken));
            Assert.Equal(42, await jsonCall.WaitAsync(TimeoutToken));
            using var reply = JsonDocument.Parse(await ReadJsonAsync(raw.Transport.Input));
            Assert.Equal(7, reply.RootElement.GetProperty("id").GetInt32());
            Assert.Equal(333, reply.RootElement.GetProperty("result").GetInt32());
            Assert.Equal(server.ProcessId, await binary.CreateProxy<ITestService>().GetProcessIdAsync().WaitAsync(TimeoutToken));
            Assert.Equal(server.ProcessId, await json.CreateProxy<ITestService>().GetProcessIdAsync().WaitAsync(TimeoutToken));
        }
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task An_endpoint_restricted_to_one_protocol_refuses_the_other_and_keeps_serving_its_own(string served)
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create("tcp")], served, cancellationToken: TimeoutToken);
        var endpoint = server.Endpoints[0];
        var (allowed, refused) = served == "json" ? (RpcProtocol.JsonRpc, RpcProtocol.Binary) : (RpcProtocol.Binary, RpcProtocol.JsonRpc);

        await using (var refusedClient = await ConnectAsync(endpoint, "tcp", refused))
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => refusedClient.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken)).WaitAsync(TimeoutToken);
        }

        if (refused == RpcProtocol.JsonRpc)
        {
            // A raw JSON-RPC request to a binary-only endpoint: the server knows no protocol that starts with '{' or a
            // letter there, so it closes the connection without answering.
            await using var raw = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport("tcp"), TimeoutToken);
            await WriteJsonAsync(raw.Transport.Output, """{"jsonrpc":"2.0","id":1,"method":"Add","params":[1,2]}""");
            await ReadUntilClosedAsync(raw.Transport.Input);
        }

        await using var allowedClient = await ConnectAsync(endpoint, "tcp", allowed);
        Assert.Equal(3, await allowedClient.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task ListenAsync_with_protocols_restricts_only_that_endpoint_and_reports_the_refusal()
    {
        await using var server = new RpcServer(new RpcServerOptions { Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc] })
            .AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var jsonOnly = await server.ListenAsync(TestEndpoints.Create("unix"), [RpcProtocol.JsonRpc], TimeoutToken);
        var both = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);

        await using (var refused = await ConnectAsync(jsonOnly, "unix", RpcProtocol.Binary))
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => refused.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken)).WaitAsync(TimeoutToken);
        }

        await WaitUntilAsync(() => !refusals.IsEmpty);
        var refusal = Assert.IsType<RpcProtocolException>(Assert.Single(refusals));
        Assert.Contains("speaks none of the protocols this endpoint serves (JsonRpc): its first bytes are 89", refusal.Message, StringComparison.Ordinal);

        await using var binary = await ConnectAsync(both, "unix", RpcProtocol.Binary);
        await using var json = await ConnectAsync(both, "unix", RpcProtocol.JsonRpc);
        Assert.Equal(3, await binary.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal(7, await json.CreateProxy<ITestService>().AddAsync(3, 4, TimeoutToken).WaitAsync(TimeoutToken));
        await Assert.ThrowsAsync<ArgumentException>(() => server.ListenAsync(TestEndpoints.Create("unix"), [], TimeoutToken));
        await Assert.ThrowsAsync<ArgumentException>(() => server.ListenAsync(TestEndpoints.Create("unix"), [RpcProtocol.Binary, RpcProtocol.Binary], TimeoutToken));
    }

    [Fact]
    public async Task A_server_serves_only_the_binary_protocol_unless_told_otherwise()
    {
        Assert.Equal([RpcProtocol.Binary], new RpcServerOptions().Protocols);
        await using var server = new RpcServer().AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);

        await using (var json = await ConnectAsync(endpoint, "unix", RpcProtocol.JsonRpc))
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => json.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken)).WaitAsync(TimeoutToken);
        }

        await WaitUntilAsync(() => !refusals.IsEmpty);
        var refusal = Assert.IsType<RpcProtocolException>(Assert.Single(refusals));
        Assert.Contains("speaks none of the protocols this endpoint serves (Binary)", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("shm")]
    public async Task Garbage_first_bytes_get_a_typed_error_and_the_server_serves_the_next_client(string transport)
    {
        await using var server = new RpcServer(TestEndpoints.ServerOptions(transport)).AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var accepted = new System.Collections.Concurrent.ConcurrentQueue<RpcConnection>();
        server.ConnectionAccepted += accepted.Enqueue;
        var endpoint = await server.ListenAsync(TestEndpoints.Create(transport), TimeoutToken);

        // A TLS ClientHello sent to a plain endpoint: its first byte (0x16) is neither protocol's.
        await using (var tlsHello = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport(transport), TimeoutToken))
        {
            await tlsHello.Transport.Output.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0xA5 }, TimeoutToken);
            await ReadUntilClosedAsync(tlsHello.Transport.Input);
        }

        await WaitUntilAsync(() => !refusals.IsEmpty);
        var refusal = Assert.IsType<RpcProtocolException>(Assert.Single(refusals));
        Assert.Contains("its first bytes are 16030100A5 (hex)", refusal.Message, StringComparison.Ordinal);

        // An HTTP request starts with a letter, so it reaches the JSON-RPC header parser, which refuses it.
        await using (var http = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport(transport), TimeoutToken))
        {
            await http.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), TimeoutToken);
            await ReadUntilClosedAsync(http.Transport.Input);
        }

        var httpConnection = Assert.Single(accepted);
        Assert.Equal(RpcProtocol.JsonRpc, httpConnection.Options.Protocol);
        await httpConnection.Completion.WaitAsync(TimeoutToken);
        var httpError = Assert.IsType<RpcProtocolException>(httpConnection.CloseReason);
        Assert.Contains("header line without a colon", httpError.Message, StringComparison.Ordinal);

        await using var binary = await ConnectAsync(endpoint, transport, RpcProtocol.Binary);
        await using var json = await ConnectAsync(endpoint, transport, RpcProtocol.JsonRpc);
        Assert.Equal(3, await binary.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal(7, await json.CreateProxy<ITestService>().AddAsync(3, 4, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Single(refusals);
    }

    [Fact]
    public async Task A_silent_client_of_a_binary_only_endpoint_is_closed_after_HandshakeTimeout_and_delays_no_other_client()
    {
        var handshakeTimeout = TimeSpan.FromSeconds(3);
        await using var server = new RpcServer(new RpcServerOptions { Protocols = [RpcProtocol.Binary], Connection = { Transport = { HandshakeTimeout = handshakeTimeout } } })
            .AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var endpoint = await server.ListenAsync(TestEndpoints.Create("tcp"), TimeoutToken);

        await using var silent = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport("tcp"), TimeoutToken);
        var silentFor = Stopwatch.StartNew();

        // Accepted after the silent one, served while it is still waiting for its first byte.
        await using (var binary = await ConnectAsync(endpoint, "tcp", RpcProtocol.Binary))
        {
            Assert.Equal(3, await binary.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
        }

        Assert.True(silentFor.Elapsed < handshakeTimeout, $"the other clients took {silentFor.Elapsed}");
        Assert.Empty(refusals);

        await ReadUntilClosedAsync(silent.Transport.Input);
        var closedAfter = silentFor.Elapsed;
        Assert.True(closedAfter >= handshakeTimeout * 0.9, $"closed after {closedAfter}");
        Assert.True(closedAfter < handshakeTimeout + TimeSpan.FromSeconds(15), $"closed after {closedAfter}");
        await WaitUntilAsync(() => !refusals.IsEmpty);
        var refusal = Assert.IsType<TimeoutException>(Assert.Single(refusals));
        Assert.Contains("sent nothing within 3 s (TransportOptions.HandshakeTimeout)", refusal.Message, StringComparison.Ordinal);
        await WaitUntilAsync(() => server.Connections.Count == 0);
    }

    [Fact]
    public async Task A_json_rpc_client_may_stay_silent_past_HandshakeTimeout_where_JSON_RPC_is_served()
    {
        // JSON-RPC has no greeting: a client may connect and wait before its first request, like an idle connection.
        var handshakeTimeout = TimeSpan.FromSeconds(1);
        await using var server = new RpcServer(new RpcServerOptions { Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc], Connection = { Transport = { HandshakeTimeout = handshakeTimeout } } })
            .AddService<ITestService>(new TestService());
        var refusals = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        server.ClientRefused += refusals.Enqueue;
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        await using var json = await ConnectAsync(endpoint, "unix", RpcProtocol.JsonRpc);

        // The server would have closed it by now under a limit: its Completion does not complete within 3x the timeout.
        var closed = await Task.WhenAny(json.Completion, Task.Delay(handshakeTimeout * 3, TimeoutToken));
        Assert.NotSame(json.Completion, closed);
        Assert.Equal(7, await json.CreateProxy<ITestService>().AddAsync(3, 4, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Empty(refusals);
    }

    private Task<RpcConnection> ConnectAsync(string endpoint, string transport, RpcProtocol protocol) =>
        RpcConnection.ConnectAsync(endpoint, new RpcConnectionOptions { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) }, TimeoutToken);

    private async Task WriteJsonAsync(PipeWriter output, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        await output.WriteAsync(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), TimeoutToken);
        await output.WriteAsync(body, TimeoutToken);
    }

    /// <summary>Reads one <c>Content-Length</c>-framed JSON-RPC message and returns its body.</summary>
    private async Task<string> ReadJsonAsync(PipeReader input)
    {
        while (true)
        {
            var read = await input.ReadAsync(TimeoutToken);
            var text = Encoding.UTF8.GetString(read.Buffer.ToArray());
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd >= 0)
            {
                var header = text[..headerEnd].Split("\r\n").Single(line => line.StartsWith("Content-Length:", StringComparison.Ordinal));
                var length = int.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var bodyStart = Encoding.UTF8.GetByteCount(text[..(headerEnd + 4)]);
                if (read.Buffer.Length >= bodyStart + length)
                {
                    var body = Encoding.UTF8.GetString(read.Buffer.Slice(bodyStart, length).ToArray());
                    input.AdvanceTo(read.Buffer.GetPosition(bodyStart + length));
                    return body;
                }
            }

            Assert.False(read.IsCompleted, $"the server closed the connection after sending only: {text}");
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    /// <summary>Reads and drops whatever comes until the server closes the connection.</summary>
    private async Task ReadUntilClosedAsync(PipeReader input)
    {
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(TimeoutToken);
                input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (IOException)
        {
            // Closed as a reset (shared memory reports the server's abort as one).
        }
    }
}
