using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Rpc.Hosting.Tests;

/// <summary>Real Generic Hosts for the tests, on Unix sockets of their own.</summary>
internal static class TestHosts
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static string NewEndpoint() => $"unix:///tmp/rpch-{Guid.NewGuid():N}.sock";

    /// <summary>Builds and starts a host whose configuration is <paramref name="settings"/>.</summary>
    public static async Task<IHost> StartAsync(Action<IServiceCollection> services, IDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        services(builder.Services);
        var host = builder.Build();
        await host.StartAsync().WaitAsync(Patience);
        return host;
    }

    /// <summary>Starts a host serving <see cref="IProbe"/> on <paramref name="endpoint"/> with <paramref name="lifetime"/>.</summary>
    public static Task<IHost> StartProbeServerAsync(string endpoint, RpcServiceLifetime lifetime = RpcServiceLifetime.Singleton, Action<IServiceCollection>? more = null) =>
        StartAsync(
            services =>
            {
                services.AddSingleton<InstanceTracker>();
                if (lifetime == RpcServiceLifetime.Singleton)
                {
                    services.AddRpcServer().AddService<IProbe, SingletonProbe>(lifetime);
                }
                else
                {
                    services.AddRpcServer().AddService<IProbe, ConnectionProbe>(lifetime);
                }

                more?.Invoke(services);
            },
            new Dictionary<string, string?> { ["Rpc:Server:Endpoints:0"] = endpoint });

    public static async Task StopAsync(IHost host)
    {
        await host.StopAsync().WaitAsync(Patience);
        await ((IAsyncDisposable)host).DisposeAsync();
    }

    /// <summary>Waits for <paramref name="condition"/>, checking it every few milliseconds, for at most <see cref="Patience"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience)
            {
                throw new TimeoutException($"Waited {Patience.TotalSeconds} s for {what}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>The path of a sample's built program (built with the tests: a ProjectReference).</summary>
    public static string SamplePath(string program)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Rpc.sln")))
        {
            root = root.Parent;
        }

        return Path.Combine(root?.FullName ?? throw new DirectoryNotFoundException("Rpc.sln was not found above the test output directory."),
            "samples", program, "bin", configuration, "net10.0", program + ".dll");
    }
}
