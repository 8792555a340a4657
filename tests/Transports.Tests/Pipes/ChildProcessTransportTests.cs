using System;
using System.Diagnostics;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using Rpc.Transports.Tests.SharedMemory;
using Xunit;

namespace Rpc.Transports.Tests.Pipes;

/// <summary>The public child-process factory, with a real child (ShmPeer child-echo) on the other end.</summary>
[SupportedOSPlatform("linux")]
public sealed class ChildProcessTransportTests : TestBase
{
    [Fact]
    public async Task A_child_started_through_the_factory_echoes_and_exits_when_the_parent_closes()
    {
        var info = PeerProcess.CreateStartInfo("child-echo", "-");
        using var pipes = ChildProcessTransport.CreatePipes(info);
        using var process = new Process { StartInfo = info };
        pipes.StartProcess(process);
        try
        {
            await using var connection = pipes.Connect();
            Assert.Equal($"child process {process.Id}", connection.RemoteEndpoint);
            await connection.Transport.Output.WriteAsync("ping"u8.ToArray(), TimeoutToken);
            Assert.Equal("ping"u8.ToArray(), await ReadExactlyAsync(connection.Transport.Input, 4));

            // Our half close ends the child's echo loop; it closes its side and exits normally.
            await connection.Transport.Output.CompleteAsync();
            Assert.Empty(await ReadToEndAsync(connection.Transport.Input));
            await process.WaitForExitAsync(TimeoutToken);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(10_000);
            }
        }
    }

    [Fact]
    public void Misuse_is_a_clear_error()
    {
        Assert.Throws<ArgumentException>(() => ChildProcessTransport.CreatePipes(new ProcessStartInfo("true") { UseShellExecute = true }));

        using var pipes = ChildProcessTransport.CreatePipes(new ProcessStartInfo("true"));
        var notStarted = Assert.Throws<InvalidOperationException>(() => pipes.Connect());
        Assert.Contains("StartProcess", notStarted.Message, StringComparison.Ordinal);

        Assert.False(ChildProcessTransport.HasParent);
        var notChild = Assert.Throws<InvalidOperationException>(() => ChildProcessTransport.ConnectToParent());
        Assert.Contains("RPC_PARENT_PIPES", notChild.Message, StringComparison.Ordinal);
    }
}
