using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.Pipes;

/// <summary>
/// A pair of one-way pipe descriptors (anonymous pipes to a child process, or its stdin/stdout) exposed as an
/// <see cref="IDuplexPipe"/>, with the socket transport's design: a dedicated receive thread whose pipe reader resumes
/// inline, and sends run inline in the runtime's <c>FlushAsync</c>.
/// </summary>
/// <remarks>
/// <para>
/// Unlike a socket, a pipe has no <c>shutdown()</c>, and on Linux <c>close()</c> does not wake a thread blocked in
/// <c>read()</c> or <c>write()</c> on the same descriptor. So our ends are non-blocking and every wait is a <c>poll()</c> on
/// the descriptor and an <c>eventfd</c>: <see cref="Abort"/> signals the eventfd and every waiter returns at once. A
/// message costs one <c>read()</c> that finds nothing, one <c>poll()</c> that sleeps, one <c>read()</c> that gets it: the
/// wake-up (~20 µs here) dominates, the two extra system calls cost about a microsecond.
/// </para>
/// <para>
/// Descriptors are <see cref="SafeHandle"/>s held with <see cref="SafeHandle.DangerousAddRef"/> while in use, so closing
/// them from another thread is deferred until the last user leaves and a recycled descriptor number is never read.
/// </para>
/// </remarks>
internal sealed class PipeConnection : TransportConnection, IDuplexPipe
{
    private const int MinimumReceiveSize = SocketConnection.MinimumSegmentSize / 2;
    private const long MaxBufferedOutputBytes = 1024 * 1024;
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromMilliseconds(500);

    private readonly SafeHandle _read;
    private readonly SafeHandle _write;
    private readonly SafeFileHandle _wake;
    private readonly Func<Exception?>? _peerEndReason;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Lock _shutdownLock = new();
    private readonly TaskCompletionSource _receiveDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposeDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sendTask = Task.CompletedTask;
    private Exception? _abortReason;
    private bool _aborted;
    private bool _closed;
    private volatile bool _disposing;
    private int _disposeStarted;

    private PipeConnection(SafeHandle read, SafeHandle write, TransportOptions options, string remoteEndpoint, Func<Exception?>? peerEndReason)
    {
        _read = read;
        _write = write;
        _peerEndReason = peerEndReason;
        RemoteEndpoint = remoteEndpoint;
        _wake = new SafeFileHandle(PipeLibC.CreateEventFd(), ownsHandle: true);
        _input = new Pipe(new PipeOptions(
            pool: null,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: options.MaxBufferedInputBytes,
            resumeWriterThreshold: options.MaxBufferedInputBytes / 2,
            minimumSegmentSize: SocketConnection.MinimumSegmentSize,
            useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(
            pool: null,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: MaxBufferedOutputBytes,
            resumeWriterThreshold: MaxBufferedOutputBytes / 2,
            minimumSegmentSize: SocketConnection.MinimumSegmentSize,
            useSynchronizationContext: false));
    }

    public override IDuplexPipe Transport => this;

    public override string RemoteEndpoint { get; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    /// <summary>Takes ownership of both descriptors, makes them non-blocking and starts the connection.</summary>
    /// <param name="read">Our read end: the peer writes into it.</param>
    /// <param name="write">Our write end: the peer reads from it.</param>
    /// <param name="options">Transport settings (<see cref="TransportOptions.UseDedicatedReceiveThread"/> is ignored: pipes always read on a dedicated thread).</param>
    /// <param name="remoteEndpoint">Names the peer in error messages.</param>
    /// <param name="peerEndReason">
    /// Called on the receive thread when the peer's end closes or breaks without us closing first; may block briefly and
    /// return the exception to complete the input with (for example, the child's exit code), or <see langword="null"/>.
    /// </param>
    public static PipeConnection Start(SafeHandle read, SafeHandle write, TransportOptions options, string remoteEndpoint, Func<Exception?>? peerEndReason = null)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Pipe connections are implemented on Linux.");
        }

        SocketOptionsValidation.Validate(options);
        PipeLibC.SetNonBlocking((int)read.DangerousGetHandle());
        PipeLibC.SetNonBlocking((int)write.DangerousGetHandle());
        var connection = new PipeConnection(read, write, options, remoteEndpoint, peerEndReason);
        connection._sendTask = connection.SendLoopAsync();
        var thread = new Thread(static state => ((PipeConnection)state!).ReceiveOnDedicatedThread(), maxStackSize: 1024 * 1024)
        {
            IsBackground = true,
            Name = "Rpc receive " + remoteEndpoint,
        };
        thread.UnsafeStart(connection);
        return connection;
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
            CloseUnderLock();
        }

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
            _output.Writer.Complete();
            await _sendTask.ConfigureAwait(false);

            // Closing our read end while the peer still writes would fail its writes with EPIPE, which it would report as
            // a lost connection: read and discard briefly until it closes its side in answer to our end-of-stream.
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
                CloseUnderLock();
            }

            await _receiveDone.Task.ConfigureAwait(false);
        }
        finally
        {
            _disposeDone.TrySetResult();
        }
    }

    private void CloseUnderLock()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        Signal();

        // Deferred by the handles' reference counts until the receive thread and any sender have left.
        _write.Dispose();
        _read.Dispose();
        _wake.Dispose();
    }

    private unsafe void Signal()
    {
        var success = false;
        try
        {
            _wake.DangerousAddRef(ref success);
            ulong one = 1;
            _ = PipeLibC.Write((int)_wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (success)
            {
                _wake.DangerousRelease();
            }
        }
    }

    private void ReceiveOnDedicatedThread()
    {
        Exception? error = null;
        var peerEnded = false;
        var writer = _input.Writer;
        var readReferenced = false;
        var wakeReferenced = false;
        try
        {
            _read.DangerousAddRef(ref readReferenced);
            _wake.DangerousAddRef(ref wakeReferenced);
            var fd = (int)_read.DangerousGetHandle();
            var wake = (int)_wake.DangerousGetHandle();
            while (true)
            {
                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = Read(fd, wake, buffer.Span);
                if (received <= 0)
                {
                    // 0: every copy of the peer's write end is closed (it closed it, exited or crashed). -1: our abort or close.
                    peerEnded = received == 0;
                    break;
                }

                writer.Advance(received);

                // The reader scheduler is inline: this runs the runtime's read loop on this thread until it awaits.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted ? flush.GetAwaiter().GetResult() : flush.AsTask().GetAwaiter().GetResult();
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (result.IsCompleted && _disposing)
                    {
                        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
                        while (Read(fd, wake, scratch) > 0)
                        {
                        }

                        ArrayPool<byte>.Shared.Return(scratch);
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
            if (readReferenced)
            {
                _read.DangerousRelease();
            }

            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }

            writer.Complete(InputCompletion(error, peerEnded));
            _receiveDone.TrySetResult();
        }
    }

    /// <summary>Reads what is there, waiting for it; 0 at end of stream, -1 when woken by a close or abort.</summary>
    private static unsafe int Read(int fd, int wake, Span<byte> buffer)
    {
        fixed (byte* bytes = buffer)
        {
            while (true)
            {
                var read = PipeLibC.Read(fd, bytes, buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == PipeLibC.EINTR)
                {
                    continue;
                }

                if (errno != PipeLibC.EAGAIN)
                {
                    throw new IOException($"Reading from the pipe failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
                }

                if (!WaitUntilReady(fd, PipeLibC.PollIn, wake))
                {
                    return -1;
                }
            }
        }
    }

    /// <summary>Sleeps until <paramref name="fd"/> is ready (or hung up) or <paramref name="wake"/> is signalled (false).</summary>
    private static unsafe bool WaitUntilReady(int fd, short events, int wake)
    {
        var fds = stackalloc PipeLibC.PollFd[2];
        while (true)
        {
            fds[0] = new PipeLibC.PollFd { Fd = fd, Events = events };
            fds[1] = new PipeLibC.PollFd { Fd = wake, Events = PipeLibC.PollIn };
            if (PipeLibC.Poll(fds, 2, -1) >= 0)
            {
                return fds[1].ReturnedEvents == 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != PipeLibC.EINTR)
            {
                throw new IOException($"poll() on the pipe failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
            }
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
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    WriteAll(buffer);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    // Closing our write end is a pipe's half close: the peer reads end-of-stream after everything we sent.
                    lock (_shutdownLock)
                    {
                        _write.Dispose();
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
            // EPIPE means the peer is gone, like end-of-stream on the receive side: let the owner explain why (exit code).
            var lost = InputCompletion(error, peerEnded: error is IOException) ?? error;
            await reader.CompleteAsync(lost).ConfigureAwait(false);
            Abort(lost);
        }
        else
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private unsafe void WriteAll(in ReadOnlySequence<byte> buffer)
    {
        var writeReferenced = false;
        var wakeReferenced = false;
        try
        {
            _write.DangerousAddRef(ref writeReferenced);
            _wake.DangerousAddRef(ref wakeReferenced);
            var fd = (int)_write.DangerousGetHandle();
            var wake = (int)_wake.DangerousGetHandle();
            foreach (var segment in buffer)
            {
                fixed (byte* start = segment.Span)
                {
                    var offset = 0;
                    while (offset < segment.Length)
                    {
                        var written = PipeLibC.Write(fd, start + offset, segment.Length - offset);
                        if (written >= 0)
                        {
                            offset += (int)written;
                            continue;
                        }

                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == PipeLibC.EINTR)
                        {
                            continue;
                        }

                        if (errno == PipeLibC.EPIPE)
                        {
                            throw new IOException($"The connection to {RemoteEndpoint} was lost while sending: the peer closed its end of the pipe.");
                        }

                        if (errno != PipeLibC.EAGAIN)
                        {
                            throw new IOException($"Writing to {RemoteEndpoint} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
                        }

                        // The pipe's buffer is full because the peer is not reading: that is the back-pressure.
                        if (!WaitUntilReady(fd, PipeLibC.PollOut, wake))
                        {
                            throw new ObjectDisposedException(RemoteEndpoint, "The connection was closed while sending.");
                        }
                    }
                }
            }
        }
        finally
        {
            if (writeReferenced)
            {
                _write.DangerousRelease();
            }

            if (wakeReferenced)
            {
                _wake.DangerousRelease();
            }
        }
    }

    /// <summary>Decides how the input pipe completes once the receive loop ends.</summary>
    private Exception? InputCompletion(Exception? error, bool peerEnded)
    {
        lock (_shutdownLock)
        {
            if (_aborted)
            {
                return _abortReason;
            }

            if (_closed || _disposing)
            {
                return null;
            }
        }

        if (peerEnded && _peerEndReason?.Invoke() is { } reason)
        {
            return reason;
        }

        return error switch
        {
            null => null,
            ObjectDisposedException => null,
            IOException => error,
            _ => new IOException($"The connection to {RemoteEndpoint} was lost: {error.Message}", error),
        };
    }
}
