using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Rpc.Transports.Tests;

/// <summary>Bounds every wait in a test and gives each test its own short temp directory for socket files.</summary>
public abstract class TestBase : IDisposable
{
    protected static readonly TimeSpan UnexpectedTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _timeout;

    protected TestBase()
        : this(UnexpectedTimeout)
    {
    }

    protected TestBase(TimeSpan timeout)
    {
        _timeout = new CancellationTokenSource(timeout);
        // Short on purpose: Unix socket paths are limited to 107 bytes.
        TempDirectory = Path.Combine(Path.GetTempPath(), "rpct-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(TempDirectory);
    }

    /// <summary>Gets a token cancelled after <see cref="UnexpectedTimeout"/>: a hang fails the test instead of the run.</summary>
    protected CancellationToken TimeoutToken => _timeout.Token;

    protected string TempDirectory { get; }

    protected string SocketPath(string name = "s.sock") => Path.Combine(TempDirectory, name);

    protected string UnixEndpoint(string name = "s.sock") => "unix://" + SocketPath(name);

    internal string UnixEndpointFor(string name) => UnixEndpoint(name);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timeout.Dispose();
            try
            {
                Directory.Delete(TempDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    protected Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeoutToken);

    protected Task Bounded(Task task) => task.WaitAsync(TimeoutToken);

    protected async Task<T> Bounded<T>(ValueTask<T> task) => await task.AsTask().WaitAsync(TimeoutToken);

    protected async Task Bounded(ValueTask task) => await task.AsTask().WaitAsync(TimeoutToken);

    /// <summary>Accepts one connection and connects to it, returning (client, server).</summary>
    protected async Task<(TransportConnection Client, TransportConnection Server)> ConnectPairAsync(TransportListener listener, TransportOptions? options = null)
    {
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        var client = await Bounded(RpcTransports.ConnectAsync(listener.Endpoint, options, TimeoutToken));
        var server = await Bounded(accept);
        Assert.NotNull(server);
        return (client, server!);
    }

    /// <summary>Reads until the writer completes; returns everything read.</summary>
    protected async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var all = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync(TimeoutToken);
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.WrittenSpan.ToArray();
            }
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    protected async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        while (true)
        {
            var result = await reader.ReadAsync(TimeoutToken);
            if (result.Buffer.Length >= count)
            {
                var bytes = result.Buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException($"Expected {count} bytes, stream ended after {result.Buffer.Length}.");
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Echoes every byte back until the peer completes, then completes its own output.</summary>
    protected static async Task EchoAsync(IDuplexPipe pipe, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await pipe.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                pipe.Output.Write(segment.Span);
            }

            pipe.Input.AdvanceTo(result.Buffer.End);
            await pipe.Output.FlushAsync(cancellationToken);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await pipe.Output.CompleteAsync();
    }
}
