using System;
using System.Threading.Tasks;

namespace Rpc.Tests.Conformance;

/// <summary>
/// Connections release everything they hold. Counted per process, so this runs alone: parallel tests would move the counts.
/// </summary>
[Collection(ResourceCountingCollection.Name)]
public sealed class ResourceTests : TestBase
{
    [Theory]
    [MemberData(nameof(ConformanceTests.Matrix), MemberType = typeof(ConformanceTests))]
    public async Task Resources_return_to_baseline_after_many_connections(string transport, RpcProtocol protocol)
    {
        await using var server = new RpcServer(new RpcServerOptions { Protocols = [protocol], Connection = { Transport = TestEndpoints.ServerTransport(transport) } })
            .AddService<ITestService>(new TestService());
        var endpoint = await server.ListenAsync(TestEndpoints.Create(transport), TimeoutToken);
        var cycles = protocol == RpcProtocol.Binary ? 1000 : 300;

        // Warm up so lazily created process-wide resources (thread pool threads, epoll) are in the baseline.
        await CycleAsync(endpoint, transport, protocol, 20);
        await WaitUntilAsync(() => server.Connections.Count == 0);
        var baseline = ResourceCounts.Take(endpoint);

        await CycleAsync(endpoint, transport, protocol, cycles);
        await WaitUntilAsync(() => server.Connections.Count == 0);

        await ResourceCounts.WaitUntilBackToAsync(baseline, TimeoutToken, endpoint);
    }

    private async Task CycleAsync(string endpoint, string transport, RpcProtocol protocol, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            await using var connection = await ConnectAsync(endpoint, transport, protocol);
            Assert.Equal(i + 1, await connection.CreateProxy<ITestService>().AddAsync(i, 1).WaitAsync(TimeoutToken));
        }
    }

    private Task<RpcConnection> ConnectAsync(string endpoint, string transport, RpcProtocol protocol) =>
        RpcConnection.ConnectAsync(endpoint, new RpcConnectionOptions { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) }, TimeoutToken);
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResourceCountingCollection
{
    public const string Name = "Resource counting";
}
