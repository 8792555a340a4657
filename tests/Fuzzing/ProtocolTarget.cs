using System;
using System.IO.Pipelines;
using System.Threading.Tasks;
using Rpc.Protocols.Binary;
using Rpc.Tests;

namespace Rpc.Fuzzing;

/// <summary>
/// Targets <c>binary</c> and <c>jsonrpc</c>: the input is every byte a hostile peer sends to one connection, which serves
/// <see cref="ITestService"/> and <see cref="ICallback"/> (the server side: frame decoder, stubs, generated argument
/// formatters) and has the <see cref="OutstandingCalls"/> waiting for replies (the client side: replies, errors and stream
/// items read by the generated result formatters). The input then ends, as when the peer closes. A binary input is what
/// the peer sends after its hello, which the target sends first.
/// </summary>
/// <remarks>
/// Oracle, for any input: the connection closes within <see cref="FuzzTargets.InputTimeout"/>; its close reason is none
/// or an <see cref="RpcException"/> (<see cref="RpcProtocolException"/> for bad bytes, <see cref="ConnectionLostException"/>
/// when the input ends); every outstanding call completes or fails with an <see cref="RpcException"/>; disposing returns.
/// Anything else thrown on a connection thread is unhandled and ends the process, which AFL++ also records as a crash.
/// </remarks>
internal static class ProtocolTarget
{
    public static void Run(RpcProtocol protocol, byte[] input)
    {
        var stage = new Stage();
        FuzzTargets.WaitForRun(RunAsync(protocol, input, stage), () => "still " + stage.Name);
    }

    /// <summary>Creates a connection that serves both test contracts, started.</summary>
    public static RpcConnection Serve(IDuplexPipe transport, RpcProtocol protocol)
    {
        var connection = RpcConnection.Create(transport, new RpcConnectionOptions { Protocol = protocol });
        connection.AddService<ITestService>(new TestService(connection.CreateProxy<ICallback>()));
        connection.AddService<ICallback>(new DoublingCallback());
        connection.Start();
        return connection;
    }

    private static async Task RunAsync(RpcProtocol protocol, byte[] input, Stage stage)
    {
        var fromPeer = new Pipe();
        var toPeer = new Pipe();
        var connection = Serve(new DuplexPipe(fromPeer.Reader, toPeer.Writer), protocol);
        var drain = DrainAsync(toPeer.Reader);
        var calls = OutstandingCalls.Start(connection.CreateProxy<ITestService>());

        stage.Name = "writing the input";
        if (protocol == RpcProtocol.Binary)
        {
            // Past the hello, or every input would stop there: the inputs are what a peer sends after it.
            await fromPeer.Writer.WriteAsync(ProtocolHello.Bytes.ToArray()).ConfigureAwait(false);
        }

        await fromPeer.Writer.WriteAsync(input).ConfigureAwait(false);
        await fromPeer.Writer.CompleteAsync().ConfigureAwait(false);

        stage.Name = "waiting for the connection to close";
        await connection.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (connection.CloseReason is { } reason and not RpcException)
        {
            throw new OracleViolationException($"The connection closed with {reason.GetType().FullName}, not an RpcException: {reason.Message}", reason);
        }

        stage.Name = "waiting for the outstanding calls (" + calls.DescribeWaiting() + ")";
        await calls.CheckAsync(FuzzTargets.InputTimeout).ConfigureAwait(false);

        stage.Name = "disposing the connection";
        await connection.DisposeAsync().ConfigureAwait(false);
        toPeer.Reader.CancelPendingRead();
        await drain.ConfigureAwait(false);
    }

    /// <summary>
    /// Reads and drops what the connection sends, so that it never waits for the peer to read, until the connection
    /// completes its output (a failed connection completes it with its close reason) or the run ends.
    /// </summary>
    private static async Task DrainAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (RpcException)
        {
        }
    }

    private sealed class Stage
    {
        public string Name { get; set; } = "starting";
    }

    private sealed class DoublingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 2);
    }
}
