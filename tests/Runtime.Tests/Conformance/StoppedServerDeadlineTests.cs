using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks;

namespace Rpc.Tests.Conformance;

/// <summary>
/// A server process stopped with SIGSTOP (alive, connection open, answering nothing): a call with a deadline still ends
/// with <see cref="RpcTimeoutException"/> by its deadline, on both protocols; once resumed, the server serves again.
/// </summary>
public sealed class StoppedServerDeadlineTests : TestBase
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData("unix", "Binary")]
    [InlineData("unix", "JsonRpc")]
    [InlineData("tcp", "Binary")]
    [InlineData("tcp", "JsonRpc")]
    public async Task A_call_to_a_stopped_server_times_out_at_its_deadline(string transport, string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var server = await ServerProcess.StartAsync(
            [TestEndpoints.Create(transport)], protocol == RpcProtocol.JsonRpc ? "json" : "binary", TestEndpoints.HostArguments(transport), TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(
            server.Endpoints[0], new RpcConnectionOptions { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) }, TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));

        await SignalAsync("STOP", server.ProcessId);
        TimeSpan elapsed;
        try
        {
            var stopwatch = Stopwatch.StartNew();
            Task<int> call;
            using (RpcCallOptions.Timeout(Deadline))
            {
                call = service.AddAsync(2, 3);
            }

            var error = await Assert.ThrowsAsync<RpcTimeoutException>(() => call).WaitAsync(TimeoutToken);
            elapsed = stopwatch.Elapsed;
            Assert.Equal(RpcErrorCode.DeadlineExceeded, error.ErrorCode);
            Assert.False(connection.Completion.IsCompleted);
        }
        finally
        {
            await SignalAsync("CONT", server.ProcessId);
        }

        // Not before the deadline (less one timer tick), and not much after it: the margin is for a loaded 2-core machine.
        Assert.True(elapsed >= Deadline - TimeSpan.FromMilliseconds(20), $"timed out after {elapsed}");
        Assert.True(elapsed < Deadline + TimeSpan.FromSeconds(10), $"timed out after {elapsed}");
        Assert.Equal(9, await service.AddAsync(4, 5).WaitAsync(TimeoutToken));
    }

    private async Task SignalAsync(string signal, int processId)
    {
        using var kill = Process.Start("kill", ["-" + signal, processId.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync(TimeoutToken);
        Assert.Equal(0, kill.ExitCode);
    }
}
