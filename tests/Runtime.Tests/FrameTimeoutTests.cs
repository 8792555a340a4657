using System;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests;

/// <summary><see cref="RpcConnectionOptions.FrameTimeout"/> over an in-memory pipe: what the side that gave up sees.</summary>
public sealed class FrameTimeoutTests : TestBase
{
    [Theory]
    [InlineData("Binary", new byte[] { 30, 0, 0, 0, 2, 1, 0, 0, 0 })]
    [InlineData("JsonRpc", new byte[] { (byte)'C', (byte)'o', (byte)'n' })]
    public async Task Pending_calls_fail_with_the_timeout_as_the_reason(string protocolName, byte[] halfFrame)
    {
        var protocol = TestProtocols.Named(protocolName);
        var (clientPipe, peer) = FullDuplexStream.CreatePipePair();
        await using var client = RpcConnection.Create(clientPipe, new RpcConnectionOptions { Protocol = protocol, FrameTimeout = TimeSpan.FromMilliseconds(300) });
        client.Start();
        var pending = client.CreateProxy<ITestService>().AddAsync(1, 2);

        await peer.Output.WriteAsync(protocol == RpcProtocol.Binary ? BinaryHello.Before(halfFrame) : halfFrame, TimeoutToken);

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(lost.InnerException);
        Assert.Contains("did not complete it within 0.3 s (RpcConnectionOptions.FrameTimeout)", reason.Message, StringComparison.Ordinal);
        Assert.Same(reason, client.CloseReason);
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_frame_arriving_in_pieces_within_the_timeout_is_served(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var pair = ConnectedPair.Create(
            new RpcConnectionOptions { Protocol = protocol, FrameTimeout = TimeSpan.FromSeconds(20) },
            new RpcConnectionOptions { Protocol = protocol });

        // 1 MiB crosses the in-memory pipe in many reads, so the server's deadline is started and stopped along the way.
        var echoed = await pair.Service.EchoAsync(new string('x', 1024 * 1024)).AsTask().WaitAsync(TimeoutToken);

        Assert.Equal(1024 * 1024, echoed.Length);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void A_frame_timeout_that_is_not_positive_is_refused(int milliseconds)
    {
        var (pipe, _) = FullDuplexStream.CreatePipePair();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => RpcConnection.Create(pipe, new RpcConnectionOptions { FrameTimeout = TimeSpan.FromMilliseconds(milliseconds) }));

        Assert.Equal(nameof(RpcConnectionOptions.FrameTimeout), error.ParamName);
    }
}
