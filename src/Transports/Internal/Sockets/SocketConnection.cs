using System;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>
/// A connected stream socket exposed as an <see cref="IDuplexPipe"/>.
/// </summary>
/// <remarks>
/// <para>
/// Input: a receive loop moves bytes from the socket into <see cref="_input"/>. With a dedicated thread (the default) it
/// blocks in <c>recv()</c> straight into the pipe's buffer, and because the pipe's reader scheduler is inline the runtime's
/// read loop continues on that same thread: one wake-up per message, no hop to the thread pool. Otherwise it uses the
/// asynchronous socket path, so thousands of idle connections cost no threads.
/// </para>
/// <para>
/// Output: the send loop drains <see cref="_output"/>. Its reader scheduler is inline too, so the runtime's
/// <c>FlushAsync</c> runs the send loop on the caller's thread; with a dedicated thread that loop does blocking
/// <c>send()</c>, and a full kernel buffer blocks the writer: that is the back-pressure.
/// </para>
/// <para>
/// Blocking mode is kept for the whole life of a dedicated-thread socket: the first asynchronous operation on a .NET socket
/// switches its descriptor to non-blocking for good, after which every "blocking" call is emulated over epoll and a round
/// trip costs about twice as much.
/// </para>
/// </remarks>
internal sealed partial class SocketConnection : TransportConnection, IDuplexPipe
{
    /// <summary>Pipe segments are large so that a big payload is a few receives and sends, not thousands.</summary>
    internal const int MinimumSegmentSize = 64 * 1024;

    /// <summary>Never hand <c>recv()</c> a sliver at the end of a segment.</summary>
    private const int MinimumReceiveSize = MinimumSegmentSize / 2;

    /// <summary>Bytes the runtime may have flushed but not yet sent before its <c>FlushAsync</c> waits.</summary>
    private const long MaxBufferedOutputBytes = 1024 * 1024;

    /// <summary>How long <see cref="DisposeAsync"/> waits for the peer to close its side after we half-closed ours.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromMilliseconds(500);

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly bool _dedicatedThread;
    private readonly Lock _shutdownLock = new();
    private readonly TaskCompletionSource _receiveDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposeDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sendTask = Task.CompletedTask;
    private Exception? _abortReason;
    private bool _aborted;
    private bool _sendShutDown;
    private bool _closed;
    private volatile bool _disposing;
    private int _disposeStarted;

    public SocketConnection(Socket socket, TransportOptions options, string remoteEndpoint)
    {
        _socket = socket;
        _dedicatedThread = options.UseDedicatedReceiveThread;
        RemoteEndpoint = remoteEndpoint;

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

    public override IDuplexPipe Transport => this;

    public override string RemoteEndpoint { get; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    /// <summary>Starts the receive and send loops. Called once, right after construction.</summary>
    public void Start()
    {
        // The send loop runs until its first ReadAsync is pending and returns; later flushes resume it inline.
        _sendTask = SendLoopAsync();

        if (_dedicatedThread)
        {
            var thread = new Thread(static state => ((SocketConnection)state!).ReceiveOnDedicatedThread(), maxStackSize: 1024 * 1024)
            {
                IsBackground = true,
                Name = "Rpc receive " + RemoteEndpoint,
            };
            thread.UnsafeStart(this);
        }
        else
        {
            _ = ReceiveLoopAsync();
        }
    }

    public override void Abort(Exception? reason = null)
    {
        lock (_shutdownLock)
        {
            if (_aborted || _closed)
            {
                return;
            }

            _aborted = true;
            _abortReason = reason;
            CloseSocketUnderLock();
        }

        // Release a receive loop waiting on back-pressure, and end a send loop waiting for data (it runs inline here).
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

            // Completing the writer resumes the send loop inline: it sends whatever the runtime flushed, then half-closes.
            _output.Writer.Complete();
            await _sendTask.ConfigureAwait(false);

            // We will not read any more. The receive loop keeps reading and discarding until the peer closes too, briefly:
            // closing a socket with unread bytes in its receive buffer makes Linux answer with a reset (TCP RST, or
            // ECONNRESET for a Unix socket) instead of an orderly end of stream, and the peer would report a lost connection.
            // Completing the reader also releases a receive loop waiting on back-pressure.
            _input.Reader.Complete();
            try
            {
                await _receiveDone.Task.WaitAsync(LingerTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            lock (_shutdownLock)
            {
                CloseSocketUnderLock();
            }

            await _receiveDone.Task.ConfigureAwait(false);
        }
        finally
        {
            _disposeDone.TrySetResult();
        }
    }

    /// <summary>Ends the send loop's half of the stream: the peer reads end-of-stream once it has everything we sent.</summary>
    private void ShutdownSend()
    {
        lock (_shutdownLock)
        {
            if (_closed || _sendShutDown)
            {
                return;
            }

            _sendShutDown = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // ENOTCONN: the peer is gone already; the receive loop reports it.
            }
        }
    }

    private void CloseSocketUnderLock()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        try
        {
            // On Linux close() does not wake a thread blocked in recv() or send() on the same socket; shutdown() does.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
    }

    /// <summary>Decides how the input pipe completes once the receive loop ends.</summary>
    private Exception? InputCompletion(Exception? error)
    {
        lock (_shutdownLock)
        {
            if (_aborted)
            {
                return _abortReason;
            }

            if (_closed || _disposing)
            {
                // Our own close (DisposeAsync) interrupted the receive: not an error for anyone still reading.
                return null;
            }
        }

        return error switch
        {
            null => null,
            SocketException socketError => new IOException($"The connection to {RemoteEndpoint} was lost: {socketError.Message}.", socketError),
            ObjectDisposedException => null,
            _ => error,
        };
    }

    private static bool IsReceiveEnd(FlushResult result) => result.IsCompleted || result.IsCanceled;
}
