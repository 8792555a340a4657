using System;
using System.Diagnostics;
using System.Threading.Tasks;

namespace Rpc.Tests.Conformance;

/// <summary>
/// Keepalive against a real server process stopped with SIGSTOP: alive to the operating system (its sockets open, the
/// kernel acknowledging), dead to its callers. Only pings find it.
/// </summary>
public sealed class KeepAliveProcessTests : TestBase
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(1);

    // Generous: a loaded 2-core machine delays timers and the failure's continuation.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("tcp", "Binary")]
    [InlineData("tcp", "JsonRpc")]
    [InlineData("tls", "Binary")]
    [InlineData("tls", "JsonRpc")]
    [InlineData("unix", "Binary")]
    public async Task A_stopped_server_is_found_and_the_pending_call_fails_within_two_intervals_and_the_timeout(string transport, string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var server = await ServerProcess.StartAsync(
            [TestEndpoints.Create(transport)], protocol == RpcProtocol.JsonRpc ? "json" : "binary", TestEndpoints.HostArguments(transport), TimeoutToken);
        var options = new RpcConnectionOptions
        {
            Protocol = protocol,
            Transport = TestEndpoints.ClientTransport(transport),
            KeepAliveInterval = Interval,
            KeepAliveTimeout = KeepAliveTimeout,
        };
        await using var client = await RpcConnection.ConnectAsync(server.Endpoints[0], options, TimeoutToken);
        var service = client.CreateProxy<ITestService>();
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));

        server.Suspend();
        try
        {
            var stopped = Stopwatch.StartNew();
            var pending = service.AddAsync(3, 4);

            var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
            var elapsed = stopped.Elapsed;

            Assert.IsType<KeepAliveTimeoutException>(lost.InnerException);
            Assert.IsType<KeepAliveTimeoutException>(client.CloseReason);
            Assert.True(elapsed >= KeepAliveTimeout * 0.9, $"failed after {elapsed}");
            Assert.True(elapsed < (2 * Interval) + KeepAliveTimeout + Slack, $"failed after {elapsed}");
        }
        finally
        {
            server.Resume();
        }
    }
}
