using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Connections;

/// <summary>
/// A byte stream exposed as an <see cref="IDuplexPipe"/>: the two pipes and the receive and send loops shared by every
/// stream transport, on the lifecycle of <see cref="ConnectionLifetime"/>. Subclasses supply only the operations on their
/// OS object.
/// </summary>
/// <remarks>
/// <para>
/// Input: a receive loop moves bytes into <see cref="_input"/>. On a dedicated thread it blocks in <see cref="Receive"/>
/// straight into the pipe's buffer, and because the pipe's reader scheduler is inline the runtime's read loop continues on
/// that same thread: one wake-up per message, no hop to the thread pool. Otherwise it awaits <see cref="ReceiveAsync"/>,
/// so thousands of idle connections cost no threads.
/// </para>
/// <para>
/// Output: the send loop drains <see cref="_output"/>. Its reader scheduler is inline too, so the runtime's
/// <c>FlushAsync</c> runs the send loop on the caller's thread; with a dedicated thread that loop does blocking
/// <see cref="Send"/>, and a full kernel buffer blocks the writer: that is the back-pressure.
/// </para>
/// </remarks>
internal abstract class DuplexPipeConnection : ConnectionLifetime, IDuplexPipe
{
    /// <summary>Pipe segments are large so that a big payload is a few receives and sends, not thousands.</summary>
    internal const int MinimumSegmentSize = 64 * 1024;

    /// <summary>Never hand a receive a sliver at the end of a segment.</summary>
    private const int MinimumReceiveSize = MinimumSegmentSize / 2;

    /// <summary>Bytes the runtime may have flushed but not yet sent before its <c>FlushAsync</c> waits.</summary>
    private const long MaxBufferedOutputBytes = 1024 * 1024;

    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly bool _dedicatedThread;
    private Task _sendTask = Task.CompletedTask;

    /// <param name="options">Supplies <see cref="TransportOptions.MaxBufferedInputBytes"/>.</param>
    /// <param name="remoteEndpoint">Names the peer in error messages.</param>
    /// <param name="dedicatedThread">
    /// <see langword="true"/>: receive on a dedicated thread with the blocking <see cref="Receive"/> and send with the blocking
    /// <see cref="Send"/>; <see langword="false"/>: <see cref="ReceiveAsync"/> and <see cref="SendAsync"/>.
    /// </param>
    protected DuplexPipeConnection(TransportOptions options, string remoteEndpoint, bool dedicatedThread)
    {
        RemoteEndpoint = remoteEndpoint;
        _dedicatedThread = dedicatedThread;

        // The default pool (MemoryPool<byte>.Shared) rents pooled arrays, so segments are reused, not allocated.
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

    public sealed override IDuplexPipe Transport => this;

    public sealed override string RemoteEndpoint { get; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    /// <summary>Starts the receive and send loops. Called once, right after construction.</summary>
    public void Start()
    {
        // The send loop runs until its first ReadAsync is pending and returns; later flushes resume it inline.
        _sendTask = SendLoopAsync();

        if (_dedicatedThread)
        {
            StartReceiveThread("Rpc receive " + RemoteEndpoint);
        }
        else
        {
            _ = ReceiveLoopAsync();
        }
    }

    protected sealed override void AbortUnderLock() => Close();

    protected sealed override void AbortOutsideLock(Exception? reason)
    {
        AbortUnderlying(reason);

        // Release a receive loop waiting on back-pressure, and end a send loop waiting for data (it runs inline here).
        _input.Writer.CancelPendingFlush();
        _output.Reader.CancelPendingRead();
    }

    protected sealed override ValueTask CompleteOutputAsync()
    {
        // Completing the writer resumes the send loop inline: it sends whatever the runtime flushed, then half-closes.
        _output.Writer.Complete();
        return new ValueTask(_sendTask);
    }

    protected sealed override void CompleteInput() => _input.Reader.Complete();

    protected sealed override void StopReceivingUnderLock() => Close();

    /// <summary>
    /// Reads what is there into <paramref name="buffer"/>, blocking until something is: the byte count, 0 at end of stream
    /// (the peer closed its sending side and everything before that was read), or -1 when our own close or abort woke it.
    /// </summary>
    protected virtual int Receive(Span<byte> buffer) => throw new NotSupportedException();

    /// <summary>Waits for incoming data without holding a buffer; its result is ignored.</summary>
    protected virtual ValueTask<int> WaitForDataAsync() => new(0);

    /// <summary>The asynchronous <see cref="Receive"/>.</summary>
    protected virtual ValueTask<int> ReceiveAsync(Memory<byte> buffer) => throw new NotSupportedException();

    /// <summary>Sends all of <paramref name="buffer"/>, blocking while the OS buffer is full.</summary>
    protected virtual void Send(in ReadOnlySequence<byte> buffer) => throw new NotSupportedException();

    /// <summary>The asynchronous <see cref="Send"/>.</summary>
    protected virtual ValueTask SendAsync(ReadOnlySequence<byte> buffer) => throw new NotSupportedException();

    /// <summary>
    /// Ends our sending half once the runtime completed its output and everything is sent (a half close): the peer reads
    /// end-of-stream and can still answer.
    /// </summary>
    protected abstract ValueTask ShutdownSendAsync();

    /// <summary>
    /// Closes the OS object, under <see cref="ConnectionLifetime.StateLock"/>, once: on the first <see cref="ConnectionLifetime.Abort"/>,
    /// or when dispose stops receiving after the linger. Must wake a thread blocked in a receive or send.
    /// </summary>
    protected abstract void Close();

    /// <summary>Called once by <see cref="ConnectionLifetime.Abort"/>, after <see cref="Close"/> and outside the lock.</summary>
    protected virtual void AbortUnderlying(Exception? reason)
    {
    }

    /// <summary>Reads and drops bytes until the peer closes, so that our close is not turned into a reset.</summary>
    protected virtual async ValueTask DrainUntilPeerClosesAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (await ReceiveAsync(scratch.AsMemory()).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Called on the dedicated receive thread before its first <see cref="Receive"/>.</summary>
    protected virtual void EnterReceiveThread()
    {
    }

    /// <summary>Called on the dedicated receive thread after its last <see cref="Receive"/>, before the input completes.</summary>
    protected virtual void ExitReceiveThread()
    {
    }

    /// <inheritdoc/>
    protected abstract override Exception? InputError(Exception? error, bool peerEnded);

    /// <summary>Maps a failed send to the exception the runtime's next <c>FlushAsync</c> throws and the abort carries.</summary>
    protected abstract Exception SendError(Exception error);

    protected sealed override void ReceiveOnDedicatedThread()
    {
        Exception? error = null;
        var peerEnded = false;
        var writer = _input.Writer;
        try
        {
            EnterReceiveThread();
            while (true)
            {
                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = Receive(buffer.Span);
                if (received <= 0)
                {
                    peerEnded = received == 0;
                    break;
                }

                writer.Advance(received);

                // The reader scheduler is inline: this call runs the runtime's read loop on this thread until it awaits.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted
                    ? flush.GetAwaiter().GetResult()
                    // Back-pressure: the runtime holds MaxBufferedInputBytes unread. Stop reading (the peer's sends then
                    // block once the OS buffers fill) until the reader has consumed half of it.
                    : flush.AsTask().GetAwaiter().GetResult();
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (result.IsCompleted && IsDisposing)
                    {
                        DrainUntilPeerCloses();
                    }

                    break;
                }
            }
        }
        catch (Exception ex)
        {
            // An error while draining ends it like our close: the input completes normally (we are disposing).
            error = ex;
            peerEnded = ex is IOException;
        }
        finally
        {
            ExitReceiveThread();
            writer.Complete(InputCompletion(error, peerEnded));
            ReceiveEnded();
        }
    }

    /// <summary>Reads and drops bytes until the peer closes, so that our close is not turned into a reset.</summary>
    private void DrainUntilPeerCloses()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (Receive(scratch) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        var peerEnded = false;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                await WaitForDataAsync().ConfigureAwait(false);

                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = await ReceiveAsync(buffer).ConfigureAwait(false);
                if (received <= 0)
                {
                    peerEnded = received == 0;
                    break;
                }

                writer.Advance(received);

                // The reader scheduler is inline: this runs the runtime's read loop on this thread until it awaits. When the
                // runtime holds MaxBufferedInputBytes unread it stays pending, and we stop reading: back-pressure.
                var result = await writer.FlushAsync().ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (result.IsCompleted && IsDisposing)
                    {
                        await DrainUntilPeerClosesAsync().ConfigureAwait(false);
                    }

                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
            peerEnded = ex is IOException;
        }
        finally
        {
            await writer.CompleteAsync(InputCompletion(error, peerEnded)).ConfigureAwait(false);
            ReceiveEnded();
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
                if (!buffer.IsEmpty)
                {
                    if (_dedicatedThread)
                    {
                        Send(buffer);
                    }
                    else
                    {
                        await SendAsync(buffer).ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    // The runtime completed its writer: everything is sent, tell the peer with a half close.
                    await ShutdownSendAsync().ConfigureAwait(false);
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
            var lost = SendError(error);

            // The runtime's next FlushAsync throws this; the receive side learns about the broken stream from the abort.
            await reader.CompleteAsync(lost).ConfigureAwait(false);
            Abort(lost);
        }
        else
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }
}
