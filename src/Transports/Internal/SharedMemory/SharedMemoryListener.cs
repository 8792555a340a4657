using System;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// Accepts shared-memory connections: each client that connects to the rendezvous socket is handed its own new segment.
/// </summary>
internal sealed class SharedMemoryListener : TransportListener
{
    private readonly Socket _listenSocket;
    private readonly UnixSocketFile _socketFile;
    private readonly string _name;
    private readonly int _ringBytes;
    private readonly TransportOptions _options;
    private int _disposed;

    public SharedMemoryListener(Socket listenSocket, UnixSocketFile socketFile, string name, int ringBytes, TransportOptions options)
    {
        _listenSocket = listenSocket;
        _socketFile = socketFile;
        _name = name;
        _ringBytes = ringBytes;
        _options = options;
        Endpoint = "shm://" + name;
    }

    public override string Endpoint { get; }

    public override async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listenSocket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (Volatile.Read(ref _disposed) != 0)
            {
                return null;
            }
            catch (SocketException ex) when (Volatile.Read(ref _disposed) != 0 || ex.SocketErrorCode == SocketError.OperationAborted)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                continue;
            }

            try
            {
                var connection = await HandshakeAsync(socket, cancellationToken).ConfigureAwait(false);
                if (connection is not null)
                {
                    return connection;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw;
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or UnauthorizedAccessException)
            {
                // One client failing its handshake (it went away, timed out, or /dev/shm refused its segment) must not stop
                // the listener; that client sees its connect fail.
            }

            socket.Dispose();
            if (Volatile.Read(ref _disposed) != 0)
            {
                return null;
            }
        }
    }

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _listenSocket.Dispose();
            _socketFile.RemoveIfOwned();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Hands the client a segment; returns null (the caller closes the socket) when the client is not ours.</summary>
    private async Task<SharedMemoryConnection?> HandshakeAsync(Socket socket, CancellationToken cancellationToken)
    {
        var (pid, uid) = SharedMemoryHandshake.PeerCredentials(socket);
        if (uid != LibC.GetEffectiveUserId())
        {
            // The socket is 0600, so only root gets here; it still gets no segment of another user's server.
            return null;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(_options.ConnectTimeout);
        }

        var segment = await SharedMemoryHandshake.OfferAsync(socket, _name, _ringBytes, timeout.Token).ConfigureAwait(false);
        var connection = new SharedMemoryConnection(segment, socket, isServer: true, _options, FormattableString.Invariant($"{Endpoint} (peer pid {pid})"));
        connection.Start();
        return connection;
    }
}
