using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Rpc.Transports.Tests;

/// <summary>Bounds every wait in a test and gives each test its own short temp directory for socket files.</summary>
public abstract class TestBase : IDisposable
{
    protected static readonly TimeSpan UnexpectedTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How far past its limit a paused reader may have buffered: what it took in its last receive.</summary>
    internal const long ReceiveSlack = 1024 * 1024;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

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

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, polling it; fails the test with the condition's text if it does
    /// not within <paramref name="timeout"/> (default: the test's own timeout). The way to wait for a state another
    /// thread or process reaches: never a fixed sleep before an assertion.
    /// </summary>
    protected async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, [CallerArgumentExpression(nameof(condition))] string? what = null)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TimeoutToken);
        if (timeout is { } bound)
        {
            limit.CancelAfter(bound);
        }

        try
        {
            while (!condition())
            {
                await Task.Delay(PollInterval, limit.Token);
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out waiting until {what}");
        }
    }

    /// <summary>
    /// Waits (at most 5 s) until this process's open descriptors and threads are down to the targets; returns the last
    /// counts either way, for the caller's assertion to report.
    /// </summary>
    protected async Task<(int Fds, int Threads)> SettledAsync(int fdTarget, int threadTarget)
    {
        (int Fds, int Threads) counts = default;
        try
        {
            await WaitUntilAsync(
                () =>
                {
                    counts = (Directory.GetFileSystemEntries("/proc/self/fd").Length, Directory.GetFileSystemEntries("/proc/self/task").Length);
                    return counts.Fds <= fdTarget && counts.Threads <= threadTarget;
                },
                TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // Not settled: the caller's assertion says by how much.
        }

        return counts;
    }

    protected Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeoutToken);

    protected Task Bounded(Task task) => task.WaitAsync(TimeoutToken);

    protected async Task<T> Bounded<T>(ValueTask<T> task) => await task.AsTask().WaitAsync(TimeoutToken);

    protected async Task Bounded(ValueTask task) => await task.AsTask().WaitAsync(TimeoutToken);

    /// <summary>
    /// Starts writing <paramref name="payload"/> to <paramref name="output"/> on another thread, in chunks of
    /// <paramref name="chunkSize"/> bytes (256 KiB by default), then completes the output if <paramref name="complete"/>.
    /// </summary>
    internal static ChunkedWrite StartWrite(PipeWriter output, byte[] payload, bool complete, int chunkSize = 256 * 1024) =>
        new(output, payload, complete, chunkSize);

    /// <summary>
    /// Gets how many bytes <paramref name="input"/> holds read from the transport but not yet consumed, without
    /// consuming or examining any. Once it reaches the reader's <see cref="TransportOptions.MaxBufferedInputBytes"/>, the
    /// transport takes no more from the peer until the reader consumes: the deterministic sign of back-pressure.
    /// </summary>
    internal static long BufferedUnread(PipeReader input)
    {
        if (!input.TryRead(out var result))
        {
            return 0;
        }

        input.AdvanceTo(result.Buffer.Start);
        return result.Buffer.Length;
    }

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

/// <summary>A payload written in chunks on another thread; <see cref="Completion"/> ends when all of it is written.</summary>
internal sealed class ChunkedWrite
{
    public ChunkedWrite(PipeWriter output, byte[] payload, bool complete, int chunkSize) =>
        Completion = Task.Run(() => WriteAsync(output, payload, complete, chunkSize));

    public Task Completion { get; }

    private static async Task WriteAsync(PipeWriter output, byte[] payload, bool complete, int chunkSize)
    {
        for (var offset = 0; offset < payload.Length; offset += chunkSize)
        {
            var result = await output.WriteAsync(payload.AsMemory(offset, Math.Min(chunkSize, payload.Length - offset)));
            if (result.IsCompleted)
            {
                throw new IOException("the transport stopped sending");
            }
        }

        if (complete)
        {
            await output.CompleteAsync();
        }
    }
}
