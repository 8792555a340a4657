using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports;

namespace Rpc.Tests.Conformance;

/// <summary>
/// The same tests for every transport and both protocols, against a server in another process (the test host's endpoints serve both
/// protocols): what a user may rely on whichever endpoint string they pick.
/// </summary>
public sealed class ConformanceTests : TestBase
{
    public static TheoryData<string, RpcProtocol> Matrix
    {
        get
        {
            var data = new TheoryData<string, RpcProtocol>();
            foreach (var transport in TestEndpoints.Transports)
            {
                data.Add(transport, RpcProtocol.Binary);
                data.Add(transport, RpcProtocol.JsonRpc);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Calls_records_and_remote_exceptions(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var service = connection.CreateProxy<ITestService>();

        Assert.Equal(server.ProcessId, await service.GetProcessIdAsync().WaitAsync(TimeoutToken));
        Assert.Equal(42, await service.AddAsync(40, 2).WaitAsync(TimeoutToken));
        Assert.Equal("héllo", await service.EchoAsync("héllo").AsTask().WaitAsync(TimeoutToken));
        var order = new Order(1, "Ada", [new OrderLine("a", 1.5m, 2)], OrderStatus.Shipped, DateTimeOffset.UnixEpoch, null) { Ratings = [3] };
        var echoed = await service.RoundTripAsync(order).WaitAsync(TimeoutToken);
        Assert.Equal(order.Lines, echoed.Lines);
        Assert.Equal(order.Ratings, echoed.Ratings);

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => service.ThrowAsync("remote boom")).WaitAsync(TimeoutToken);
        Assert.Equal("System.InvalidOperationException", error.RemoteTypeName);
        Assert.Equal("remote boom", error.Message);
        Assert.Equal(RpcErrorCode.InvocationFailed, error.ErrorCode);
        var missing = await Assert.ThrowsAsync<RemoteInvocationException>(() => connection.CreateProxy<IUnservedService>().MissingAsync()).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.MethodNotFound, missing.ErrorCode);
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_thousand_calls_in_flight(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var service = connection.CreateProxy<ITestService>();

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => service.AddAsync(i, 1))).WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(1, 1000), results);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Streams_and_callbacks(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol, c => c.AddService<ICallback>(new TriplingCallback()));
        var service = connection.CreateProxy<ITestService>();

        var items = new List<int>();
        await foreach (var item in service.CountAsync(300, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 300), items);
        Assert.Equal(30, await service.CallBackAsync(10).WaitAsync(TimeoutToken));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Cancellation_reaches_the_server(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var service = connection.CreateProxy<ITestService>();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.WaitForCancellationAsync(cancellation.Token)).WaitAsync(TimeoutToken);

        await WaitUntilAsync(() => service.WasLastWaitCancelledAsync());
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sixteen_MiB_payloads(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var expected = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(expected);

        using var echoed = await connection.CreateProxy<ITestService>().EchoBufferAsync(RpcBuffer.CopyFrom(expected)).WaitAsync(TimeoutToken);

        Assert.True(expected.AsSpan().SequenceEqual(echoed.Span));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Many_clients_at_once(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        var connections = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => ConnectAsync(server.Endpoints[0], transport, protocol)));
        try
        {
            var sums = await Task.WhenAll(connections.Select((c, i) => SumManyAsync(c.CreateProxy<ITestService>(), i))).WaitAsync(TimeoutToken);

            Assert.Equal(Enumerable.Range(0, 16).Select(i => Enumerable.Range(0, 100).Sum(j => i + j)), sums);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_killed_server_fails_pending_calls_promptly(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        using var leftOvers = EndpointFiles.DeleteLeftOversOnDispose(server.Endpoints[0]);
        await using var connection = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var service = connection.CreateProxy<ITestService>();
        var pending = Enumerable.Range(0, 10).Select(_ => service.SleepAsync(60_000)).ToArray();
        await service.AddAsync(1, 1).WaitAsync(TimeoutToken);
        var stopwatch = Stopwatch.StartNew();

        server.Kill();

        foreach (var call in pending)
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => call).WaitAsync(TimeoutToken);
        }

        // The loss is seen at once (end of stream, or the shared-memory liveness check within 2 s); the margin is for a
        // loaded 2-core CI machine, where the kill itself and the test's own scheduling take time.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        await connection.Completion.WaitAsync(TimeoutToken);
        await Assert.ThrowsAsync<ConnectionLostException>(() => service.AddAsync(1, 2)).WaitAsync(TimeoutToken);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_client_reconnects_after_the_server_restarts(string transport, RpcProtocol protocol)
    {
        var endpoint = TestEndpoints.Create(transport, fixedPort: true);
        using var leftOvers = EndpointFiles.DeleteLeftOversOnDispose(endpoint);
        await using (var first = await ServerProcess.StartAsync([endpoint], arguments: TestEndpoints.HostArguments(transport), cancellationToken: TimeoutToken))
        {
            await using var connection = await ConnectAsync(first.Endpoints[0], transport, protocol);
            Assert.Equal(2, await connection.CreateProxy<ITestService>().AddAsync(1, 1).WaitAsync(TimeoutToken));
            first.Kill();
            await connection.Completion.WaitAsync(TimeoutToken);
        }

        // A killed server leaves its endpoint behind (a socket file, a TIME_WAIT port); the new one takes it over.
        await using var second = await ServerProcess.StartAsync([endpoint], arguments: TestEndpoints.HostArguments(transport), cancellationToken: TimeoutToken);
        await using var reconnected = await ConnectAsync(second.Endpoints[0], transport, protocol);
        Assert.Equal(4, await reconnected.CreateProxy<ITestService>().AddAsync(2, 2).WaitAsync(TimeoutToken));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Garbage_and_truncated_frames_never_hurt_other_clients(string transport, RpcProtocol protocol)
    {
        await using var server = await StartServerAsync(transport);
        await using var healthy = await ConnectAsync(server.Endpoints[0], transport, protocol);
        var service = healthy.CreateProxy<ITestService>();
        var running = service.SleepAsync(300);

        byte[][] attacks = protocol == RpcProtocol.Binary
            ? [Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n"), BinaryHello.Before(0xFF, 0xFF, 0xFF, 0x7F, 1, 1, 0, 0, 0), BinaryHello.Before(5, 0, 0, 0, 99, 1, 0, 0, 0), BinaryHello.Before(200, 0, 0, 0, 1, 1, 0, 0, 0, 7)]
            : [Encoding.ASCII.GetBytes("Content-Length: 2147483647\r\n\r\n{"), Encoding.ASCII.GetBytes("Content-Length: abc\r\n\r\n"), Encoding.ASCII.GetBytes("Content-Length: 500\r\n\r\n{\"jsonrpc\":")];
        foreach (var attack in attacks)
        {
            await using var raw = await RpcTransports.ConnectAsync(server.Endpoints[0], TestEndpoints.ClientTransport(transport), TimeoutToken);
            await raw.Transport.Output.WriteAsync(attack, TimeoutToken);
            await raw.Transport.Output.CompleteAsync();

            // The server drops the bad connection: its side of the stream ends, cleanly or as a reset (shared memory
            // reports the server's abort as one).
            try
            {
                while (true)
                {
                    var read = await raw.Transport.Input.ReadAsync(TimeoutToken);
                    raw.Transport.Input.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        await running.WaitAsync(TimeoutToken);
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));
        Assert.False(server.HasExited);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Graceful_shutdown_finishes_running_calls(string transport, RpcProtocol protocol)
    {
        var server = new RpcServer(new RpcServerOptions { Protocols = [protocol], ShutdownTimeout = TimeSpan.FromSeconds(10), Connection = { Transport = TestEndpoints.ServerTransport(transport) } })
            .AddService<ITestService>(new TestService());
        var endpoint = await server.ListenAsync(TestEndpoints.Create(transport), TimeoutToken);
        await using var connection = await ConnectAsync(endpoint, transport, protocol);
        var service = connection.CreateProxy<ITestService>();
        var running = service.SleepAsync(500);
        await WaitUntilAsync(() => server.Connections.Sum(c => c.Protocol.IncomingCallsInFlight) != 0);

        var stopping = server.StopAsync();
        await running.WaitAsync(TimeoutToken);
        await stopping.WaitAsync(TimeoutToken);
        await connection.Completion.WaitAsync(TimeoutToken);
        await server.DisposeAsync();
    }

    private Task<ServerProcess> StartServerAsync(string transport) =>
        ServerProcess.StartAsync([TestEndpoints.Create(transport)], arguments: TestEndpoints.HostArguments(transport), cancellationToken: TimeoutToken);

    private Task<RpcConnection> ConnectAsync(string endpoint, string transport, RpcProtocol protocol, Action<RpcConnection>? configure = null) =>
        RpcConnection.ConnectAsync(endpoint, configure, new RpcConnectionOptions { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) }, TimeoutToken);

    private static async Task<int> SumManyAsync(ITestService service, int offset)
    {
        var total = 0;
        for (var j = 0; j < 100; j++)
        {
            total += await service.AddAsync(offset, j);
        }

        return total;
    }

    private sealed class TriplingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
