using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Rpc.Transports;

namespace Rpc.Tests.Conformance;

/// <summary>
/// <see cref="RpcConnectionOptions.FrameTimeout"/> against a server in another process, on every transport and both
/// protocols: a peer that stops mid-frame is cut, an idle one is not, and neither disturbs the other clients.
/// </summary>
public sealed class FrameTimeoutTests : TestBase
{
    private static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(1);

    [Theory]
    [MemberData(nameof(ConformanceTests.Matrix), MemberType = typeof(ConformanceTests))]
    public async Task A_peer_that_stops_mid_frame_is_cut_while_an_idle_peer_keeps_working(string transport, RpcProtocol protocol)
    {
        await using var server = await ServerProcess.StartAsync(
            [TestEndpoints.Create(transport)],
            arguments: [.. TestEndpoints.HostArguments(transport), "--frame-timeout", FrameTimeout.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            cancellationToken: TimeoutToken);
        await using var healthy = await RpcConnection.ConnectAsync(
            server.Endpoints[0], new RpcConnectionOptions { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) }, TimeoutToken);
        var service = healthy.CreateProxy<ITestService>();
        Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));

        // The call's request and reply are whole frames; the connection is idle between them for twice the timeout.
        var idleFor = Stopwatch.StartNew();
        var idle = service.SleepAsync((int)(2 * FrameTimeout.TotalMilliseconds));

        byte[][] halfFrames = protocol == RpcProtocol.Binary
            ? [BinaryHello.Before(20, 0), BinaryHello.Before(20, 0, 0, 0, 1, 1, 0)]
            : [Encoding.ASCII.GetBytes("Content-Length: 10"), Encoding.ASCII.GetBytes("Content-Length: 10\r\n"), Encoding.ASCII.GetBytes("Content-Length: 10\r\n\r\n{\"js")];
        var cutAfter = await Task.WhenAll(halfFrames.Select(bytes => TimeUntilCutAsync(server.Endpoints[0], transport, bytes)));

        foreach (var elapsed in cutAfter)
        {
            // Not before the timeout (the bytes themselves are valid so far), and not much after it: the margin is for a
            // loaded 2-core machine.
            Assert.True(elapsed >= FrameTimeout * 0.9, $"cut after {elapsed}");
            Assert.True(elapsed < FrameTimeout + TimeSpan.FromSeconds(10), $"cut after {elapsed}");
        }

        await idle.WaitAsync(TimeoutToken);
        Assert.True(idleFor.Elapsed >= 2 * FrameTimeout, $"idle for {idleFor.Elapsed}");
        Assert.Equal(7, await service.AddAsync(3, 4).WaitAsync(TimeoutToken));
        Assert.False(healthy.Completion.IsCompleted);
        Assert.False(server.HasExited);
    }

    /// <summary>Sends <paramref name="bytes"/> and nothing more, and measures how long until the server drops the connection.</summary>
    private async Task<TimeSpan> TimeUntilCutAsync(string endpoint, string transport, byte[] bytes)
    {
        await using var raw = await RpcTransports.ConnectAsync(endpoint, TestEndpoints.ClientTransport(transport), TimeoutToken);
        var stopwatch = Stopwatch.StartNew();
        await raw.Transport.Output.WriteAsync(bytes, TimeoutToken);
        try
        {
            while (true)
            {
                var read = await raw.Transport.Input.ReadAsync(TimeoutToken);
                raw.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // Dropped as a reset (shared memory reports the server's abort as one).
        }

        return stopwatch.Elapsed;
    }
}
