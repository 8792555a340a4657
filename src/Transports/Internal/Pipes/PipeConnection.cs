using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal.Connections;
using Rpc.Transports.Internal.Interop;
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
/// the descriptor and an <c>eventfd</c>: <see cref="ConnectionLifetime.Abort"/> signals the eventfd and every waiter returns at once. A
/// message costs one <c>read()</c> that finds nothing, one <c>poll()</c> that sleeps, one <c>read()</c> that gets it: the
/// wake-up (~20 µs here) dominates, the two extra system calls cost about a microsecond.
/// </para>
/// <para>
/// Descriptors are <see cref="SafeHandle"/>s held with <see cref="SafeHandle.DangerousAddRef"/> while in use, so closing
/// them from another thread is deferred until the last user leaves and a recycled descriptor number is never read.
/// </para>
/// </remarks>
internal sealed class PipeConnection : DuplexPipeConnection
{
    private readonly SafeHandle _read;
    private readonly SafeHandle _write;
    private readonly SafeFileHandle _wake;
    private readonly Func<Exception?>? _peerEndReason;
    private bool _readReferenced;
    private bool _wakeReferenced;
    private int _readFd;
    private int _wakeFd;

    // Receive thread only: the last read drained the pipe, so the next one most likely finds it empty.
    private bool _pollFirst;

    private PipeConnection(SafeHandle read, SafeHandle write, TransportOptions options, string remoteEndpoint, Func<Exception?>? peerEndReason)
        : base(options, remoteEndpoint, dedicatedThread: true)
    {
        _read = read;
        _write = write;
        _peerEndReason = peerEndReason;
        _wake = new SafeFileHandle(LibC.CreateEventFd(), ownsHandle: true);
    }

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
        LibC.SetNonBlocking((int)read.DangerousGetHandle());
        LibC.SetNonBlocking((int)write.DangerousGetHandle());
        var connection = new PipeConnection(read, write, options, remoteEndpoint, peerEndReason);
        connection.Start();
        return connection;
    }

    /// <summary>Holds both descriptors the receive thread polls for its whole life, so each read costs no reference count.</summary>
    protected override void EnterReceiveThread()
    {
        _read.DangerousAddRef(ref _readReferenced);
        _wake.DangerousAddRef(ref _wakeReferenced);
        _readFd = (int)_read.DangerousGetHandle();
        _wakeFd = (int)_wake.DangerousGetHandle();
    }

    protected override void ExitReceiveThread()
    {
        if (_readReferenced)
        {
            _read.DangerousRelease();
        }

        if (_wakeReferenced)
        {
            _wake.DangerousRelease();
        }
    }

    // 0: every copy of the peer's write end is closed (it closed it, exited or crashed). -1: our abort or close.
    protected override int Receive(Span<byte> buffer) => Read(_readFd, _wakeFd, buffer, ref _pollFirst);

    protected override unsafe void Send(in ReadOnlySequence<byte> buffer)
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
                        var written = LibC.Write(fd, start + offset, segment.Length - offset);
                        if (written >= 0)
                        {
                            offset += (int)written;
                            continue;
                        }

                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == LibC.EINTR)
                        {
                            continue;
                        }

                        if (errno == LibC.EPIPE)
                        {
                            throw new IOException($"The connection to {RemoteEndpoint} was lost while sending: the peer closed its end of the pipe.");
                        }

                        if (errno != LibC.EAGAIN)
                        {
                            throw new IOException($"Writing to {RemoteEndpoint} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
                        }

                        // The pipe's buffer is full because the peer is not reading: that is the back-pressure.
                        if (!WaitUntilReady(fd, LibC.PollOut, wake))
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

    protected override ValueTask ShutdownSendAsync()
    {
        // Closing our write end is a pipe's half close: the peer reads end-of-stream after everything we sent.
        lock (StateLock)
        {
            _write.Dispose();
        }

        return default;
    }

    /// <remarks>
    /// Closing our read end while the peer still writes would fail its writes with EPIPE, which it would report as a lost
    /// connection: hence the linger before this close in <see cref="ConnectionLifetime.DisposeAsync"/>, reading and
    /// discarding briefly until the peer closes its side in answer to our end-of-stream.
    /// </remarks>
    protected override void Close()
    {
        Signal();

        // Deferred by the handles' reference counts until the receive thread and any sender have left.
        _write.Dispose();
        _read.Dispose();
        _wake.Dispose();
    }

    protected override Exception? InputError(Exception? error, bool peerEnded)
    {
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

    // EPIPE means the peer is gone, like end-of-stream on the receive side: let the owner explain why (exit code).
    protected override Exception SendError(Exception error) => InputCompletion(error, peerEnded: error is IOException) ?? error;

    /// <summary>Reads what is there, waiting for it; 0 at end of stream, -1 when woken by a close or abort.</summary>
    /// <remarks>
    /// The descriptor is non-blocking (so that a close can wake the wait), which makes a plain read-then-wait cost three
    /// system calls per message when the pipe is empty: read (EAGAIN), poll, read. In a request/reply exchange it nearly
    /// always is, so after a read that drained the pipe (<paramref name="pollFirst"/>) we wait first: two calls, as close
    /// to the single blocking read of a plain pipe as a wakeable wait gets. A read that fills the buffer reads first again.
    /// </remarks>
    private static unsafe int Read(int fd, int wake, Span<byte> buffer, ref bool pollFirst)
    {
        fixed (byte* bytes = buffer)
        {
            if (pollFirst && !WaitUntilReady(fd, LibC.PollIn, wake))
            {
                return -1;
            }

            while (true)
            {
                var read = LibC.Read(fd, bytes, buffer.Length);
                if (read >= 0)
                {
                    pollFirst = read < buffer.Length;
                    return (int)read;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                if (errno != LibC.EAGAIN)
                {
                    throw new IOException($"Reading from the pipe failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
                }

                if (!WaitUntilReady(fd, LibC.PollIn, wake))
                {
                    return -1;
                }
            }
        }
    }

    /// <summary>Sleeps until <paramref name="fd"/> is ready (or hung up) or <paramref name="wake"/> is signalled (false).</summary>
    private static unsafe bool WaitUntilReady(int fd, short events, int wake)
    {
        var fds = stackalloc LibC.PollFd[2];
        while (true)
        {
            fds[0] = new LibC.PollFd { Fd = fd, Events = events };
            fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.PollIn };
            if (LibC.Poll(fds, 2, -1) >= 0)
            {
                return fds[1].ReturnedEvents == 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
            {
                throw new IOException($"poll() on the pipe failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
            }
        }
    }

    private unsafe void Signal()
    {
        var success = false;
        try
        {
            _wake.DangerousAddRef(ref success);
            ulong one = 1;
            _ = LibC.Write((int)_wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
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
}
