using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Rpc.Hosting.Tests;

public sealed class ServerTests
{
    [Fact]
    public async Task Singleton_IsOneObjectForEveryConnection()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint);
        try
        {
            await using var first = await RpcConnection.ConnectAsync(endpoint);
            await using var second = await RpcConnection.ConnectAsync(endpoint);
            var a = await first.CreateProxy<IProbe>().GetInstanceAsync();
            var b = await second.CreateProxy<IProbe>().GetInstanceAsync();
            Assert.Equal(a, b);
            Assert.Single(host.Services.GetRequiredService<InstanceTracker>().Disposed);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task PerConnection_IsOneObjectPerConnection_GetsItsConnection_AndIsDisposedWhenItCloses()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint, RpcServiceLifetime.PerConnection);
        try
        {
            var tracker = host.Services.GetRequiredService<InstanceTracker>();
            var first = await RpcConnection.ConnectAsync(endpoint);
            await using var second = await RpcConnection.ConnectAsync(endpoint);
            var a = await first.CreateProxy<IProbe>().GetInstanceAsync();
            Assert.Equal(a, await first.CreateProxy<IProbe>().GetInstanceAsync());
            var b = await second.CreateProxy<IProbe>().GetInstanceAsync();
            Assert.NotEqual(a, b);
            Assert.StartsWith("unix", await first.CreateProxy<IProbe>().GetConnectionAsync(), StringComparison.Ordinal);

            await first.DisposeAsync();
            await TestHosts.UntilAsync(() => tracker.Disposed[a], "the closed connection's object to be disposed");
            Assert.False(tracker.Disposed[b]);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task PerCall_IsOneObjectPerCall_WithItsOwnScope_GetsItsConnection_AndIsDisposedWhenTheCallIsOver()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddSingleton<InstanceTracker>();
                services.AddScoped<CallDependency>();
                services.AddRpcServer().AddService<IProbe, CallProbe>(RpcServiceLifetime.PerCall);
            },
            new Dictionary<string, string?> { ["Rpc:Server:Endpoints:0"] = endpoint });
        try
        {
            var tracker = host.Services.GetRequiredService<InstanceTracker>();
            await using var connection = await RpcConnection.ConnectAsync(endpoint);
            var probe = connection.CreateProxy<IProbe>();

            // The scope is disposed before the reply leaves: a caller that has its answer finds the object disposed.
            var a = await probe.GetInstanceAsync();
            var b = await probe.GetInstanceAsync();
            Assert.NotEqual(a, b);
            Assert.True(tracker.Disposed[a] && tracker.Disposed[b]);
            Assert.NotSame(tracker.Dependencies[a], tracker.Dependencies[b]);
            Assert.True(tracker.Dependencies[a].IsDisposed && tracker.Dependencies[b].IsDisposed);
            Assert.StartsWith("unix", await probe.GetConnectionAsync(), StringComparison.Ordinal);

            var concurrent = probe.SlowAsync(10_000);
            var other = probe.SlowAsync(10_000);
            await TestHosts.UntilAsync(() => tracker.SlowCallsStarted == 2, "both slow calls to run at once");
            var running = tracker.Disposed.Where(entry => !entry.Value).Select(entry => entry.Key).ToList();
            Assert.Equal(2, running.Count);
            Assert.All(running, id => Assert.False(tracker.Dependencies[id].IsDisposed));

            await connection.DisposeAsync();
            await Assert.ThrowsAsync<ConnectionLostException>(() => concurrent);
            await Assert.ThrowsAsync<ConnectionLostException>(() => other);
            await TestHosts.UntilAsync(() => running.All(id => tracker.Disposed[id] && tracker.Dependencies[id].IsDisposed), "the calls cut by the close to be disposed");
            Assert.Equal(5, tracker.Disposed.Count);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task PerCall_AScopedDependencyThatTakesTheConnection_IsAClearErrorAndTheConnectionStaysOpen()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddScoped<ConnectionDependency>();
                services.AddRpcServer().AddService<IProbe, ConnectionDependentProbe>(RpcServiceLifetime.PerCall);
            },
            new Dictionary<string, string?> { ["Rpc:Server:Endpoints:0"] = endpoint });
        try
        {
            await using var connection = await RpcConnection.ConnectAsync(endpoint);
            var probe = connection.CreateProxy<IProbe>();
            for (var call = 0; call < 2; call++)
            {
                var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => probe.GetConnectionAsync());
                Assert.Contains("RpcServiceLifetime.PerCall", error.Message, StringComparison.Ordinal);
            }

            Assert.True(connection.IsConnected);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public void Connection_CannotBeInjectedOutsideAConnection()
    {
        var services = new ServiceCollection();
        services.AddRpcServer();
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();
        var exception = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<RpcConnection>());
        Assert.Contains("PerConnection", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_BindFromConfiguration_ThenCode_AndTakeTheHostsLoggerFactory()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddLogging();
                services.AddSingleton<InstanceTracker>();
                services.AddRpcServer(options => options.CancellationGracePeriod = TimeSpan.FromSeconds(4))
                    .AddService<IProbe, SingletonProbe>();
            },
            new Dictionary<string, string?>
            {
                ["Rpc:Server:Endpoints:0"] = endpoint,
                ["Rpc:Server:ShutdownTimeout"] = "00:00:03",
                ["Rpc:Server:CancellationGracePeriod"] = "00:00:09",
                ["Rpc:Server:Connection:MaxFrameSize"] = "2048",
                ["Rpc:Server:Connection:Transport:HandshakeTimeout"] = "00:00:07",
            });
        try
        {
            var options = host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
            Assert.Equal(TimeSpan.FromSeconds(3), options.ShutdownTimeout);
            Assert.Equal(TimeSpan.FromSeconds(4), options.CancellationGracePeriod);
            Assert.Equal(2048, options.Connection.MaxFrameSize);
            Assert.Equal(TimeSpan.FromSeconds(7), options.Connection.Transport.HandshakeTimeout);
            Assert.Same(host.Services.GetRequiredService<ILoggerFactory>(), options.Connection.LoggerFactory);
            Assert.Equal([endpoint], host.Services.GetRequiredService<RpcServer>().Endpoints);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task Options_BindFromAnAppsettingsFile()
    {
        var server = TestHosts.NewEndpoint();
        var file = Path.Combine(Path.GetTempPath(), $"rpch-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, $$"""
            {
              "Rpc": {
                "Server": { "Endpoints": [ "{{server}}" ], "ShutdownTimeout": "00:00:02" },
                "Clients": { "IProbe": { "Endpoint": "{{server}}", "Client": { "WaitForReady": true, "MaxIdempotentAttempts": 5 } } }
              }
            }
            """);
        try
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Configuration.AddJsonFile(file);
            builder.Services.AddSingleton<InstanceTracker>();
            builder.Services.AddRpcServer().AddService<IProbe, SingletonProbe>();
            builder.Services.AddRpcClient<IProbe>();
            var host = builder.Build();
            await host.StartAsync().WaitAsync(TestHosts.Patience);
            try
            {
                Assert.Equal(TimeSpan.FromSeconds(2), host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value.ShutdownTimeout);
                var client = host.Services.GetRequiredService<IOptionsMonitor<RpcClientFactoryOptions>>().Get(nameof(IProbe));
                Assert.True(client.Client.WaitForReady);
                Assert.Equal(5, client.Client.MaxIdempotentAttempts);
                Assert.Equal(1, await host.Services.GetRequiredService<IProbe>().GetInstanceAsync());
            }
            finally
            {
                await TestHosts.StopAsync(host);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task KeyedClients_CallTheirOwnServers()
    {
        var (a, b) = (TestHosts.NewEndpoint(), TestHosts.NewEndpoint());
        var serverA = await TestHosts.StartProbeServerAsync(a);
        var serverB = await TestHosts.StartProbeServerAsync(b);
        var client = await TestHosts.StartAsync(services =>
        {
            services.AddKeyedRpcClient<IProbe>("a", a);
            services.AddKeyedRpcClient<IProbe>("b", options => options.Client.WaitForReady = true);
        }, new Dictionary<string, string?> { ["Rpc:Clients:b:Endpoint"] = b, ["Rpc:Clients:a:Client:WaitForReady"] = "true" });
        try
        {
            var probeA = client.Services.GetRequiredKeyedService<IProbe>("a");
            var probeB = client.Services.GetRequiredKeyedService<IProbe>("b");
            await probeA.GetInstanceAsync();
            await probeB.GetInstanceAsync();
            Assert.Single(serverA.Services.GetRequiredService<RpcServer>().Connections);
            Assert.Single(serverB.Services.GetRequiredService<RpcServer>().Connections);
            Assert.Null(client.Services.GetService<IProbe>());
        }
        finally
        {
            await TestHosts.StopAsync(client);
            await TestHosts.StopAsync(serverA);
            await TestHosts.StopAsync(serverB);
        }
    }

    [Fact]
    public async Task Stop_RefusesNewCalls_LetsRunningCallsFinish()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint);
        await using var connection = await RpcConnection.ConnectAsync(endpoint);
        var probe = connection.CreateProxy<IProbe>();
        // Long enough to still run when the first refused call has been seen, on a loaded machine too.
        var running = probe.SlowAsync(3000);
        await TestHosts.UntilAsync(() => host.Services.GetRequiredService<InstanceTracker>().SlowCallsStarted == 1, "the slow call to run");
        var stopping = host.StopAsync();

        // New calls are refused from the moment the drain starts, while the running one goes on.
        RemoteInvocationException? refused = null;
        await TestHosts.UntilAsync(
            () =>
            {
                refused = Record.ExceptionAsync(() => probe.GetInstanceAsync()).GetAwaiter().GetResult() as RemoteInvocationException;
                return refused is not null;
            },
            "a new call to be refused");
        Assert.Equal(RpcErrorCode.ServerShuttingDown, refused!.ErrorCode);
        Assert.False(running.IsCompleted);
        Assert.Equal(1, await running.WaitAsync(TestHosts.Patience));
        await stopping.WaitAsync(TestHosts.Patience);
        await ((IAsyncDisposable)host).DisposeAsync();
    }

    [Fact]
    public async Task HostShutdownTimeout_CancelsCallsTheServerWouldStillWaitFor()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartProbeServerAsync(endpoint, more: services =>
        {
            services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(1));
            services.AddRpcServer(options => options.ShutdownTimeout = TimeSpan.FromMinutes(5));
        });
        await using var connection = await RpcConnection.ConnectAsync(endpoint);
        var running = connection.CreateProxy<IProbe>().SlowAsync(600_000);
        await TestHosts.UntilAsync(() => host.Services.GetRequiredService<RpcServer>().Connections.Count == 1, "the connection");

        // The host waits 1 s, not the server's 5 min: the call's token fires and the caller gets a typed error.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Record.ExceptionAsync(() => host.StopAsync().WaitAsync(TestHosts.Patience));
        await Assert.ThrowsAnyAsync<RpcException>(() => running.WaitAsync(TestHosts.Patience));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"The stop took {clock.Elapsed}.");
        await ((IAsyncDisposable)host).DisposeAsync();
    }

    [Fact]
    public async Task SynchronousDisposalOfTheContainer_ClosesItsClients()
    {
        var endpoint = TestHosts.NewEndpoint();
        var server = await TestHosts.StartProbeServerAsync(endpoint);
        try
        {
            var services = new ServiceCollection();
            services.AddRpcClient<IProbe>(endpoint, options => options.WaitForReady = true);
            var provider = services.BuildServiceProvider();
            await provider.GetRequiredService<IProbe>().GetInstanceAsync().WaitAsync(TestHosts.Patience);
            await Task.Run(provider.Dispose).WaitAsync(TestHosts.Patience);
            await TestHosts.UntilAsync(() => server.Services.GetRequiredService<RpcServer>().Connections.Count == 0, "the client's connection to close");
        }
        finally
        {
            await TestHosts.StopAsync(server);
        }
    }
}
