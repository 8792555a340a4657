using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting.Tests;

public sealed class WorkerTests
{
    [Fact]
    public async Task HostedWorker_RunsTheHubsCalls_ReconnectsAfterLosingIt_AndLeavesWhenTheHostStops()
    {
        var workers = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddLogging();
                services.AddSingleton<InstanceTracker>();
                services.AddRpcWorker<IProbe, SingletonProbe>(configure: options => options.ReconnectDelay = TimeSpan.FromMilliseconds(50));
            },
            new Dictionary<string, string?> { ["Rpc:Workers:IProbe:Endpoint"] = workers });
        try
        {
            // The worker is up before the hub: it keeps trying until the hub listens.
            for (var round = 0; round < 2; round++)
            {
                await using var hub = new WorkQueueHub<IProbe>();
                await hub.ListenForWorkersAsync(workers);
                await TestHosts.UntilAsync(() => hub.WorkerCount == 1, "the hosted worker to connect");
                Assert.Equal(1, await hub.Proxy.GetInstanceAsync().WaitAsync(TestHosts.Patience));
                if (round == 1)
                {
                    await host.StopAsync().WaitAsync(TestHosts.Patience);
                    await TestHosts.UntilAsync(() => hub.WorkerCount == 0, "the worker to leave with the host");
                }
            }
        }
        finally
        {
            await ((IAsyncDisposable)host).DisposeAsync();
        }
    }
}
