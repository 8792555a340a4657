using System;
using System.Buffers;
using System.IO;
using System.Net.Sockets;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>
/// A connected stream socket exposed as an <see cref="System.IO.Pipelines.IDuplexPipe"/>: blocking <c>recv()</c> on a
/// dedicated thread and blocking <c>send()</c> (the default), or the asynchronous socket path.
/// </summary>
/// <remarks>
/// Blocking mode is kept for the whole life of a dedicated-thread socket: the first asynchronous operation on a .NET socket
/// switches its descriptor to non-blocking for good, after which every "blocking" call is emulated over epoll and a round
/// trip costs about twice as much.
/// </remarks>
internal sealed class SocketConnection : DuplexPipeConnection
{
    private readonly Socket _socket;

    public SocketConnection(Socket socket, TransportOptions options, string remoteEndpoint)
        : base(options, remoteEndpoint, options.UseDedicatedReceiveThread)
    {
        _socket = socket;
    }

    // recv() returns 0 once the peer has shut down its sending side (FIN) and we read everything before it.
    protected override int Receive(Span<byte> buffer) => _socket.Receive(buffer, SocketFlags.None);

    // A zero-byte receive waits for data without holding a pipe segment, so an idle connection costs no buffer.
    protected override ValueTask<int> WaitForDataAsync() => _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _socket.ReceiveAsync(buffer, SocketFlags.None);

    protected override void Send(in ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            var remaining = segment.Span;
            while (!remaining.IsEmpty)
            {
                // A blocking send() returns once the kernel has taken the bytes; it blocks while the socket buffer is full.
                remaining = remaining[_socket.Send(remaining, SocketFlags.None)..];
            }
        }
    }

    protected override async ValueTask SendAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            var remaining = segment;
            while (!remaining.IsEmpty)
            {
                remaining = remaining[await _socket.SendAsync(remaining, SocketFlags.None).ConfigureAwait(false)..];
            }
        }
    }

    protected override ValueTask ShutdownSendAsync()
    {
        lock (StateLock)
        {
            if (!IsClosed)
            {
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

        return default;
    }

    /// <remarks>
    /// Closing a socket with unread bytes in its receive buffer makes Linux answer with a reset (TCP RST, or ECONNRESET for a
    /// Unix socket) instead of an orderly end of stream, and the peer would report a lost connection: hence the linger
    /// before this close in <see cref="ConnectionLifetime.DisposeAsync"/>.
    /// </remarks>
    protected override void Close()
    {
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

    protected override Exception? InputError(Exception? error, bool peerEnded) => error switch
    {
        null => null,
        SocketException socketError => new IOException($"The connection to {RemoteEndpoint} was lost: {socketError.Message}.", socketError),
        ObjectDisposedException => null,
        _ => error,
    };

    protected override Exception SendError(Exception error)
    {
        var lost = InputCompletion(error, peerEnded: false) ?? error;
        return lost is SocketException or ObjectDisposedException
            ? new IOException($"The connection to {RemoteEndpoint} was lost while sending.", lost)
            : lost;
    }
}
