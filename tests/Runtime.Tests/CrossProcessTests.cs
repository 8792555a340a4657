using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>
/// A real server process on a real socket: the calls, streams, errors and failures a user sees, across a process boundary.
/// </summary>
public sealed class CrossProcessTests : TestBase
{
    public static TheoryData<string> Transports => new() { "unix", "tcp" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Calls_streams_and_errors_cross_the_process_boundary(string transport)
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor(transport)], cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], cancellationToken: TimeoutToken);
        var service = connection.CreateProxy<ITestService>();

        Assert.Equal(server.ProcessId, await service.GetProcessIdAsync().WaitAsync(TimeoutToken));
        Assert.Equal(42, await service.AddAsync(40, 2).WaitAsync(TimeoutToken));
        var items = new List<int>();
        await foreach (var item in service.CountAsync(100, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 100), items);
        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => service.ThrowAsync("remote boom")).WaitAsync(TimeoutToken);
        Assert.Equal("System.InvalidOperationException", error.RemoteTypeName);
        Assert.Equal("remote boom", error.Message);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task The_server_calls_back_a_client_served_contract(string transport)
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor(transport)], cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(
            server.Endpoints[0], c => c.AddService<ICallback>(new TriplingCallback()), cancellationToken: TimeoutToken);

        Assert.Equal(30, await connection.CreateProxy<ITestService>().CallBackAsync(10).WaitAsync(TimeoutToken));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Cancellation_reaches_the_server_process(string transport)
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor(transport)], cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], cancellationToken: TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.WaitForCancellationAsync(cancellation.Token)).WaitAsync(TimeoutToken);

        while (!await service.WasLastWaitCancelledAsync().WaitAsync(TimeoutToken))
        {
            await Task.Delay(10, TimeoutToken);
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_killed_server_fails_every_pending_call_promptly(string transport)
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor(transport)], cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], cancellationToken: TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        var pending = Enumerable.Range(0, 10).Select(_ => service.SleepAsync(60_000)).ToArray();
        await service.AddAsync(1, 1).WaitAsync(TimeoutToken);
        var stopwatch = Stopwatch.StartNew();

        server.Kill();

        foreach (var call in pending)
        {
            await Assert.ThrowsAsync<ConnectionLostException>(() => call).WaitAsync(TimeoutToken);
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
        await Assert.ThrowsAsync<ConnectionLostException>(() => service.AddAsync(1, 2));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Many_clients_are_served_concurrently(string transport)
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor(transport)], cancellationToken: TimeoutToken);
        var connections = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => RpcConnection.ConnectAsync(server.Endpoints[0], cancellationToken: TimeoutToken)));
        try
        {
            var sums = await Task.WhenAll(connections.Select((c, i) => SumManyAsync(c.CreateProxy<ITestService>(), i))).WaitAsync(TimeoutToken);
            Assert.Equal(Enumerable.Range(0, 16).Select(i => Enumerable.Range(0, 200).Sum(j => i + j)), sums);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_large_payload_crosses_a_unix_socket_intact()
    {
        await using var server = await ServerProcess.StartAsync([EndpointFor("unix")], cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], cancellationToken: TimeoutToken);
        var expected = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(expected);

        using var echoed = await connection.CreateProxy<ITestService>().EchoBufferAsync(RpcBuffer.CopyFrom(expected)).WaitAsync(TimeoutToken);

        Assert.True(expected.AsSpan().SequenceEqual(echoed.Span));
    }

    [Fact]
    public async Task Graceful_shutdown_lets_running_calls_finish_and_refuses_new_ones()
    {
        var endpoint = EndpointFor("unix");
        var server = new RpcServer(new RpcServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(10) })
            .AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        var running = service.SleepAsync(500);
        await WaitUntilAsync(() => server.Connections.Sum(c => c.Protocol.IncomingCallsInFlight) == 1);

        var stopping = server.StopAsync();
        await WaitUntilAsync(() => !File.Exists(endpoint["unix://".Length..]));
        var refused = await Record.ExceptionAsync(() => service.AddAsync(1, 2)).WaitAsync(TimeoutToken);

        await running.WaitAsync(TimeoutToken);
        await stopping.WaitAsync(TimeoutToken);
        Assert.True(
            refused is RemoteInvocationException { ErrorCode: RpcErrorCode.ServerShuttingDown } or ConnectionLostException,
            $"unexpected {refused}");
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Shutdown_cancels_calls_still_running_at_the_deadline()
    {
        var endpoint = EndpointFor("tcp");
        await using var server = new RpcServer(new RpcServerOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(200) })
            .AddService<ITestService>(new TestService());
        var bound = await server.ListenAsync(endpoint, TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(bound, cancellationToken: TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        var running = service.SleepAsync(60_000);
        await WaitUntilAsync(() => server.Connections.Sum(c => c.Protocol.IncomingCallsInFlight) == 1);

        await server.StopAsync().WaitAsync(TimeoutToken);

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => running).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.Cancelled, error.ErrorCode);
    }

    [Fact]
    public async Task A_client_reconnects_after_the_server_restarts()
    {
        var endpoint = EndpointFor("unix");
        await using (var first = await ServerProcess.StartAsync([endpoint], cancellationToken: TimeoutToken))
        {
            await using var connection = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
            Assert.Equal(2, await connection.CreateProxy<ITestService>().AddAsync(1, 1).WaitAsync(TimeoutToken));
            first.Kill();
            await connection.Completion.WaitAsync(TimeoutToken);
        }

        // The killed server left its socket file behind; the new one reclaims it.
        await using var second = await ServerProcess.StartAsync([endpoint], cancellationToken: TimeoutToken);
        await using var reconnected = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        Assert.Equal(4, await reconnected.CreateProxy<ITestService>().AddAsync(2, 2).WaitAsync(TimeoutToken));
    }

    internal static string EndpointFor(string transport) => transport switch
    {
        "unix" => $"unix://{Path.Combine(Path.GetTempPath(), $"rpc-test-{Guid.NewGuid():N}.sock")}",
        "tcp" => "tcp://127.0.0.1:0",
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    private static async Task<int> SumManyAsync(ITestService service, int offset)
    {
        var total = 0;
        for (var j = 0; j < 200; j++)
        {
            total += await service.AddAsync(offset, j);
        }

        return total;
    }

    private async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, TimeoutToken);
        }
    }

    private sealed class TriplingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
