using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting.Tests;

public sealed class ClientDisposalTests
{
    /// <summary>
    /// Without a synchronization context (a console app, a worker), the code after an awaited call runs on the thread
    /// that received the reply; a synchronous dispose there (<c>using var host</c>) must not wait for that thread.
    /// </summary>
    [Fact]
    public async Task AClientHostDisposedSynchronously_RightAfterACall_ReturnsAndClosesTheConnection()
    {
        var endpoint = TestHosts.NewEndpoint();
        var server = await TestHosts.StartProbeServerAsync(endpoint);
        try
        {
            // Task.Run: no synchronization context (xUnit's would move the continuation off the receive thread).
            var probe = await Task.Run(async () =>
            {
                var client = await TestHosts.StartAsync(services => services.AddRpcClient<IProbe>(endpoint, options => options.WaitForReady = true));
                var probe = client.Services.GetRequiredService<IProbe>();
                using (client)
                {
                    await probe.GetInstanceAsync();
                }

                return probe;
            }).WaitAsync(TestHosts.Patience);

            await Assert.ThrowsAsync<ObjectDisposedException>(() => probe.GetInstanceAsync());
            await TestHosts.UntilAsync(() => server.Services.GetRequiredService<RpcServer>().Connections.Count == 0, "the client's connection to close");
        }
        finally
        {
            await TestHosts.StopAsync(server);
        }
    }
}
