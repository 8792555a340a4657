using System;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Client;

/// <summary>The Reconnected hook, against an in-process server; the connection is lost by aborting it locally.</summary>
public sealed class ReconnectedHookTests : TestBase
{
    [Fact]
    public async Task A_failing_Reconnected_hook_counts_as_a_failed_attempt_and_runs_again_on_the_next_connection()
    {
        await using var server = new RpcServer().AddService<ITestService>(_ => new TestService());
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"));
        var hookRuns = 0;
        var options = new RpcClientOptions
        {
            Reconnect = { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) },
            WaitForReady = true,
            Reconnected = (connection, _) =>
            {
                Assert.True(connection.IsConnected);
                return Interlocked.Increment(ref hookRuns) == 1
                    ? Task.FromException(new InvalidOperationException("first run fails"))
                    : Task.CompletedTask;
            },
        };
        await using var client = new RpcClient(endpoint, options);
        await client.ConnectAsync(TimeoutToken);
        var first = client.Connection;
        Assert.NotNull(first);
        Assert.Equal(0, hookRuns);
        var service = client.GetProxy<ITestService>();

        first.Abort();
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));

        Assert.Equal(2, Volatile.Read(ref hookRuns));
        Assert.Equal(RpcClientState.Connected, client.State);
        Assert.NotSame(first, client.Connection);
        Assert.False(first.IsConnected);
    }
}
