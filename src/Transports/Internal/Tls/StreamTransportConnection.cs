using System;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// A <see cref="Stream"/> (for TLS, an <see cref="System.Net.Security.SslStream"/>) exposed as an <see cref="IDuplexPipe"/>,
/// with the lifecycle of the socket transport: clean close completes the input, <see cref="Abort"/> drops everything,
/// <see cref="DisposeAsync"/> flushes, closes and waits.
/// </summary>
/// <remarks>
/// <para>
/// Input: an asynchronous loop reads the stream into <see cref="_input"/>, whose reader is resumed inline. Over the
/// socket transport the stream's reads complete on the socket's dedicated receive thread, so decryption and the runtime's
/// read loop run there: one wake-up per message, as with plain TCP. A second thread doing blocking reads would add a
/// wake-up (and a context switch) per message.
/// </para>
/// <para>
/// Output: the send loop drains <see cref="_output"/>, resumed inline by the runtime's <c>FlushAsync</c>, and writes
/// each segment to the stream on the runtime's thread. It is the stream's only writer (SslStream forbids concurrent
/// writes); the runtime already serializes its flushes.
/// </para>
/// </remarks>
internal sealed class StreamTransportConnection : TransportConnection, IDuplexPipe
{
    private const int MinimumSegmentSize = 64 * 1024;
    private const int MinimumReceiveSize = MinimumSegmentSize / 2;
    private const long MaxBufferedOutputBytes = 1024 * 1024;

    private readonly Stream _stream;
    private readonly Func<Stream, ValueTask> _shutdownSend;
    private readonly Action<Exception?> _abortUnderlying;
    private readonly Func<ValueTask> _releaseUnderlying;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Lock _stateLock = new();
    private readonly CancellationTokenSource _stopReceiving = new();
    private readonly TaskCompletionSource _receiveDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposeDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sendTask = Task.CompletedTask;
    private Exception? _abortReason;
    private bool _aborted;
    private volatile bool _disposing;
    private int _disposeStarted;

    /// <param name="stream">The established stream; this connection owns it.</param>
    /// <param name="remoteEndpoint">Names the peer in error messages.</param>
    /// <param name="options">Supplies <see cref="TransportOptions.MaxBufferedInputBytes"/>.</param>
    /// <param name="shutdownSend">Ends our sending half once the runtime completed its output (TLS: close_notify, then a half close).</param>
    /// <param name="abortUnderlying">Tears down whatever carries the stream, waking any blocked read or write.</param>
    /// <param name="releaseUnderlying">Closes whatever carries the stream once both loops have ended.</param>
    public StreamTransportConnection(
        Stream stream,
        string remoteEndpoint,
        TransportOptions options,
        Func<Stream, ValueTask> shutdownSend,
        Action<Exception?> abortUnderlying,
        Func<ValueTask> releaseUnderlying)
    {
        _stream = stream;
        RemoteEndpoint = remoteEndpoint;
        _shutdownSend = shutdownSend;
        _abortUnderlying = abortUnderlying;
        _releaseUnderlying = releaseUnderlying;
        _input = new Pipe(new PipeOptions(
            pool: null,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: options.MaxBufferedInputBytes,
            resumeWriterThreshold: options.MaxBufferedInputBytes / 2,
            minimumSegmentSize: MinimumSegmentSize,
            useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(
            pool: null,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: MaxBufferedOutputBytes,
            resumeWriterThreshold: MaxBufferedOutputBytes / 2,
            minimumSegmentSize: MinimumSegmentSize,
            useSynchronizationContext: false));
    }

    public override IDuplexPipe Transport => this;

    public override string RemoteEndpoint { get; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    /// <summary>Starts the receive and send loops. Called once, right after construction.</summary>
    public void Start()
    {
        // The send loop runs until its first ReadAsync is pending and returns; later flushes resume it inline.
        _sendTask = SendLoopAsync();
        _ = ReceiveLoopAsync();
    }

    public override void Abort(Exception? reason = null)
    {
        lock (_stateLock)
        {
            if (_aborted)
            {
                return;
            }

            _aborted = true;
            _abortReason = reason;
        }

        // Closing the underlying connection fails a read or write blocked in the stream; the cancellations release loops
        // that wait on our own pipes.
        _abortUnderlying(reason);
        _input.Writer.CancelPendingFlush();
        _output.Reader.CancelPendingRead();
    }

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _ = DisposeCoreAsync();
        }

        return new ValueTask(_disposeDone.Task);
    }

    private async Task DisposeCoreAsync()
    {
        try
        {
            _disposing = true;

            // Completing the writer resumes the send loop inline: it writes what the runtime flushed, then shuts down our
            // sending half (close_notify and a half close), so the peer reads a clean end of stream.
            _output.Writer.Complete();
            await _sendTask.ConfigureAwait(false);

            // Stop the receive loop: completing the reader releases it from back-pressure, cancelling wakes its read. The
            // underlying connection then lingers for the peer's close itself, so our close does not become a reset.
            _input.Reader.Complete();
            await _stopReceiving.CancelAsync().ConfigureAwait(false);
            await _receiveDone.Task.ConfigureAwait(false);

            await _releaseUnderlying().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
            _stopReceiving.Dispose();
        }
        finally
        {
            _disposeDone.TrySetResult();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = await _stream.ReadAsync(buffer, _stopReceiving.Token).ConfigureAwait(false);
                if (received == 0)
                {
                    // TLS: the peer sent close_notify, or closed the connection between records.
                    break;
                }

                writer.Advance(received);

                // The reader scheduler is inline: this runs the runtime's read loop on this thread until it awaits. When the
                // runtime holds MaxBufferedInputBytes unread it stays pending, and we stop reading: back-pressure.
                var result = await writer.FlushAsync().ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            await writer.CompleteAsync(InputCompletion(error)).ConfigureAwait(false);
            _receiveDone.TrySetResult();
        }
    }

    private async Task SendLoopAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                // Pending between flushes; the runtime's FlushAsync resumes it inline on the runtime's thread.
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    // Abort: unsent bytes are dropped.
                    break;
                }

                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await _stream.WriteAsync(segment).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    if (!Volatile.Read(ref _aborted))
                    {
                        await _shutdownSend(_stream).ConfigureAwait(false);
                    }

                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (error is not null)
        {
            var lost = AbortReason() ?? (error as IOException ?? new IOException($"The connection to {RemoteEndpoint} was lost while sending: {error.Message}", error));

            // The runtime's next FlushAsync throws this; the receive side learns about the broken stream from the abort.
            await reader.CompleteAsync(lost).ConfigureAwait(false);
            Abort(lost);
        }
        else
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private Exception? AbortReason()
    {
        lock (_stateLock)
        {
            return _aborted ? _abortReason : null;
        }
    }

    /// <summary>Decides how the input pipe completes once the receive loop ends.</summary>
    private Exception? InputCompletion(Exception? error)
    {
        lock (_stateLock)
        {
            if (_aborted)
            {
                return _abortReason;
            }
        }

        if (_disposing || error is null or OperationCanceledException or ObjectDisposedException)
        {
            // Our own close interrupted the read: not an error for anyone still reading.
            return null;
        }

        return error as IOException ?? new IOException($"The connection to {RemoteEndpoint} was lost: {error.Message}", error);
    }
}
