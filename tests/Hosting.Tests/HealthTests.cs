using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Rpc.Health;

namespace Rpc.Hosting.Tests;

public sealed class HealthTests
{
    [Fact]
    public async Task Check_KnowsTheServerAndItsContracts()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint);
        try
        {
            await using var connection = await RpcConnection.ConnectAsync(endpoint);
            var health = connection.CreateProxy<IRpcHealth>();
            Assert.Equal(RpcHealthStatus.Serving, await health.CheckAsync(""));
            Assert.Equal(RpcHealthStatus.Serving, await health.CheckAsync(typeof(IProbe).FullName!));
            Assert.Equal(RpcHealthStatus.ServiceUnknown, await health.CheckAsync("Nobody.IKnows"));
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task Watch_SeesNotServing_AsSoonAsTheDrainStarts_WhileCallsStillRun()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint);
        await using var connection = await RpcConnection.ConnectAsync(endpoint);
        var statuses = new List<RpcHealthStatus>();
        await using var watch = connection.CreateProxy<IRpcHealth>().WatchAsync("").GetAsyncEnumerator();
        Assert.True(await watch.MoveNextAsync());
        statuses.Add(watch.Current);

        var running = connection.CreateProxy<IProbe>().SlowAsync(1500);
        await TestHosts.UntilAsync(() => host.Services.GetRequiredService<InstanceTracker>().SlowCallsStarted == 1, "the slow call to run");
        var stopping = host.StopAsync();
        while (await watch.MoveNextAsync().AsTask().WaitAsync(TestHosts.Patience))
        {
            statuses.Add(watch.Current);
        }

        Assert.Equal([RpcHealthStatus.Serving, RpcHealthStatus.NotServing], statuses);
        Assert.False(running.IsCompleted);
        await running.WaitAsync(TestHosts.Patience);
        await stopping.WaitAsync(TestHosts.Patience);
        await ((IAsyncDisposable)host).DisposeAsync();
    }

    [Fact]
    public async Task HealthChecks_FeedTheServersStatus_ByNameAndTag()
    {
        var endpoint = TestHosts.NewEndpoint();
        var healthy = true;
        var host = await TestHosts.StartProbeServerAsync(endpoint, more: services =>
        {
            services.AddHealthChecks().AddCheck("database", () => Volatile.Read(ref healthy) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(), tags: ["storage"]);
            services.Configure<HealthCheckPublisherOptions>(options =>
            {
                options.Delay = TimeSpan.Zero;
                options.Period = TimeSpan.FromSeconds(1);
            });
        });
        try
        {
            await using var connection = await RpcConnection.ConnectAsync(endpoint);
            var health = connection.CreateProxy<IRpcHealth>();
            await UntilStatusAsync(health, "storage", RpcHealthStatus.Serving);
            Assert.Equal(RpcHealthStatus.Serving, await health.CheckAsync("database"));

            Volatile.Write(ref healthy, false);
            await UntilStatusAsync(health, "storage", RpcHealthStatus.NotServing);
            Assert.Equal(RpcHealthStatus.NotServing, await health.CheckAsync(""));
            Assert.Equal(RpcHealthStatus.NotServing, await health.CheckAsync("database"));
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task RpcServerCheck_IsHealthyWhileTheServerServes_AndUnhealthyOnceItIsGone()
    {
        var endpoint = TestHosts.NewEndpoint();
        var server = await TestHosts.StartProbeServerAsync(endpoint);
        var client = await TestHosts.StartAsync(services => services.AddHealthChecks().AddRpcServerCheck("probe-server", endpoint, timeout: TimeSpan.FromSeconds(3)));
        try
        {
            var checks = client.Services.GetRequiredService<HealthCheckService>();
            var report = await checks.CheckHealthAsync().WaitAsync(TestHosts.Patience);
            Assert.Equal(HealthStatus.Healthy, report.Status);

            await TestHosts.StopAsync(server);
            report = await checks.CheckHealthAsync().WaitAsync(TestHosts.Patience);
            Assert.Equal(HealthStatus.Unhealthy, report.Entries["probe-server"].Status);
        }
        finally
        {
            await TestHosts.StopAsync(client);
        }
    }

    private static async Task UntilStatusAsync(IRpcHealth health, string service, RpcHealthStatus expected)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await health.CheckAsync(service) != expected)
        {
            if (clock.Elapsed > TestHosts.Patience)
            {
                throw new TimeoutException($"'{service}' did not become {expected}.");
            }

            await Task.Delay(20);
        }
    }
}
