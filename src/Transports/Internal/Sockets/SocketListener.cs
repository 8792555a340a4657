using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>Accepts connections on a bound, listening socket (TCP or Unix).</summary>
internal sealed class SocketListener : TransportListener
{
    private readonly Socket _listenSocket;
    private readonly TransportOptions _options;
    private readonly UnixSocketFile? _socketFile;
    private readonly Func<Socket, string> _describePeer;
    private int _disposed;

    public SocketListener(Socket listenSocket, string endpoint, TransportOptions options, UnixSocketFile? socketFile, Func<Socket, string> describePeer)
    {
        _listenSocket = listenSocket;
        Endpoint = endpoint;
        _options = options;
        _socketFile = socketFile;
        _describePeer = describePeer;
    }

    public override string Endpoint { get; }

    public override async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket socket;
            try
            {
                // Asynchronous accept leaves the accepted socket in blocking mode: accept4() does not copy O_NONBLOCK from
                // the listening socket to the new one.
                socket = await _listenSocket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (Volatile.Read(ref _disposed) != 0)
            {
                return null;
            }
            catch (SocketException ex) when (Volatile.Read(ref _disposed) != 0 || ex.SocketErrorCode == SocketError.OperationAborted)
            {
                // Disposing the listener aborts a pending accept.
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // The client gave up while its connection waited in the backlog; wait for the next one.
                continue;
            }

            try
            {
                return SocketConnector.StartConnection(socket, _options, _describePeer(socket));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _listenSocket.Dispose();
            _socketFile?.RemoveIfOwned();
        }

        return ValueTask.CompletedTask;
    }
}
