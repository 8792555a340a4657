using System;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Transports;
using Rpc.Transports.Internal.Pipes;

namespace Rpc.Tests.Processes;

/// <summary>pipe:// through the whole stack: RpcServer.ListenAsync and RpcConnection.ConnectAsync.</summary>
public sealed class NamedPipeRpcTests : TestBase
{
    private static string NewEndpoint() => "pipe://rpct-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Calls_and_callbacks_through_RpcServer_and_RpcConnection()
    {
        var endpoint = NewEndpoint();
        await using var server = new RpcServer().AddService<ITestService>(c => new TestService(c.CreateProxy<ICallback>()));
        Assert.Equal(endpoint, await server.ListenAsync(endpoint, TimeoutToken));

        await using var client = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<ICallback>(new Callback()), cancellationToken: TimeoutToken);
        var proxy = client.CreateProxy<ITestService>();
        Assert.Equal(42, await proxy.AddAsync(40, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal("héllo", await proxy.EchoAsync("héllo").AsTask().WaitAsync(TimeoutToken));
        Assert.Equal(21, await proxy.CallBackAsync(7).WaitAsync(TimeoutToken));
        Assert.Equal(endpoint, client.RemoteEndpoint);
        Assert.Contains($"pid {Environment.ProcessId}, uid", Assert.Single(server.Connections).RemoteEndpoint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_concurrent_clients()
    {
        var endpoint = NewEndpoint();
        await using var server = new RpcServer().AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);

        var clients = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken)));
        try
        {
            await Task.WhenAll(clients.Select(async (client, index) =>
            {
                var proxy = client.CreateProxy<ITestService>();
                for (var i = 0; i < 50; i++)
                {
                    Assert.Equal(index + i, await proxy.AddAsync(index, i, TimeoutToken));
                }
            })).WaitAsync(TimeoutToken);
            Assert.Equal(32, server.Connections.Count);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Server_death_fails_pending_calls_with_ConnectionLostException()
    {
        var endpoint = NewEndpoint();
        var server = new RpcServer().AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);
        await using var client = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var pending = client.CreateProxy<ITestService>().SleepAsync(30_000, TimeoutToken);
        await client.CreateProxy<ITestService>().PingAsync().AsTask().WaitAsync(TimeoutToken);

        foreach (var connection in server.Connections)
        {
            connection.Abort();
        }

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeoutToken));
        await server.DisposeAsync();
    }

    private sealed class Callback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
