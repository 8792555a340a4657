using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests;

/// <summary>RpcServer.StopAsync: running calls finish, new ones are refused, stragglers are cancelled at the deadline.</summary>
public sealed class ServerShutdownTests : TestBase
{
    [Fact]
    public async Task Graceful_shutdown_lets_running_calls_finish_and_refuses_new_ones()
    {
        var endpoint = TestEndpoints.Create("unix");
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
        var endpoint = TestEndpoints.Create("tcp");
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

}
