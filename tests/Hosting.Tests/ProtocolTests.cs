using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Rpc.Hosting.Tests;

/// <summary>Rpc:Server:Protocols: names of protocols, resolved against those the code made known.</summary>
public sealed class ProtocolTests
{
    [Fact]
    public async Task ProtocolsFromConfiguration_ServeABinaryAndAJsonRpcClientOnOneEndpoint()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddSingleton<InstanceTracker>();
                services.AddRpcServer().AddService<IProbe, SingletonProbe>().AddProtocol(RpcProtocol.JsonRpc);
            },
            new Dictionary<string, string?>
            {
                ["Rpc:Server:Endpoints:0"] = endpoint,
                ["Rpc:Server:Protocols:0"] = "Binary",
                ["Rpc:Server:Protocols:1"] = "jsonrpc",
            });
        try
        {
            Assert.Equal([RpcProtocol.Binary, RpcProtocol.JsonRpc], host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value.Protocols);
            await using var binary = await RpcConnection.ConnectAsync(endpoint);
            await using var json = await RpcConnection.ConnectAsync(endpoint, new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc });
            var instance = await binary.CreateProxy<IProbe>().GetInstanceAsync().WaitAsync(TestHosts.Patience);
            Assert.Equal(instance, await json.CreateProxy<IProbe>().GetInstanceAsync().WaitAsync(TestHosts.Patience));
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task ProtocolsFromConfiguration_CanLeaveBinaryOut()
    {
        var endpoint = TestHosts.NewEndpoint();
        var host = await TestHosts.StartAsync(
            services =>
            {
                services.AddSingleton<InstanceTracker>();
                services.AddRpcServer().AddService<IProbe, SingletonProbe>().AddProtocol(RpcProtocol.JsonRpc);
            },
            new Dictionary<string, string?> { ["Rpc:Server:Endpoints:0"] = endpoint, ["Rpc:Server:Protocols:0"] = "JsonRpc" });
        try
        {
            await using var json = await RpcConnection.ConnectAsync(endpoint, new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc });
            Assert.Equal(1, await json.CreateProxy<IProbe>().GetInstanceAsync().WaitAsync(TestHosts.Patience));
            await Assert.ThrowsAnyAsync<RpcException>(async () =>
            {
                await using var binary = await RpcConnection.ConnectAsync(endpoint);
                await binary.CreateProxy<IProbe>().GetInstanceAsync().WaitAsync(TestHosts.Patience);
            });
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    [Fact]
    public async Task AnUnknownProtocolName_FailsTheHostsStart_NamingTheKnownOnes()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHosts.StartAsync(
            services =>
            {
                services.AddSingleton<InstanceTracker>();
                services.AddRpcServer().AddService<IProbe, SingletonProbe>();
            },
            new Dictionary<string, string?> { ["Rpc:Server:Endpoints:0"] = TestHosts.NewEndpoint(), ["Rpc:Server:Protocols:0"] = "JsonRpc" }));

        Assert.Contains("Rpc:Server:Protocols names 'JsonRpc'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Known: Binary.", failure.Message, StringComparison.Ordinal);
        Assert.Contains("AddProtocol(RpcProtocol.JsonRpc)", failure.Message, StringComparison.Ordinal);
    }
}
