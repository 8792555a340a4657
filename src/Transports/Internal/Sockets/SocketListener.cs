using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>Accepts connections on a bound, listening socket (TCP, Unix, or the Unix socket of a named pipe).</summary>
internal sealed class SocketListener : TransportListener
{
    private readonly Socket _listenSocket;
    private readonly TransportOptions _options;
    private readonly UnixSocketFile? _socketFile;
    private readonly Func<Socket, string?> _describePeer;
    private int _disposed;

    /// <param name="listenSocket">The bound, listening socket; the listener owns it.</param>
    /// <param name="endpoint">The endpoint as bound, for <see cref="Endpoint"/>.</param>
    /// <param name="options">Settings for the accepted connections.</param>
    /// <param name="socketFile">The Unix socket file to remove on dispose, if any.</param>
    /// <param name="describePeer">
    /// Names an accepted peer in error messages, or returns <see langword="null"/> to refuse it: its socket is closed and
    /// the next connection accepted.
    /// </param>
    public SocketListener(Socket listenSocket, string endpoint, TransportOptions options, UnixSocketFile? socketFile, Func<Socket, string?> describePeer)
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
                if (_describePeer(socket) is { } description)
                {
                    return SocketConnector.StartConnection(socket, _options, description);
                }
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            socket.Dispose();
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
