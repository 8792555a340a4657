using System;
using System.Globalization;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.Pipes;

/// <summary>
/// Accepts <c>pipe://</c> connections: the socket listener's accept, plus a check that the peer runs as our user, the
/// same check .NET's <c>PipeOptions.CurrentUserOnly</c> makes.
/// </summary>
internal sealed class NamedPipeListener : TransportListener
{
    private readonly Socket _listenSocket;
    private readonly UnixSocketFile _socketFile;
    private readonly TransportOptions _options;
    private readonly uint _userId;
    private int _disposed;

    public NamedPipeListener(Socket listenSocket, UnixSocketFile socketFile, string endpoint, TransportOptions options)
    {
        _listenSocket = listenSocket;
        _socketFile = socketFile;
        Endpoint = endpoint;
        _options = options;
        _userId = OperatingSystem.IsLinux() ? LibC.GetEffectiveUserId() : 0;
    }

    public override string Endpoint { get; }

    public override async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket socket;
            try
            {
                // accept4() does not copy O_NONBLOCK, so the accepted socket stays on the blocking fast path.
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

            var peer = PeerCredentials.TryGet(socket);
            if (peer is { } credentials && credentials.UserId != _userId)
            {
                // Only root gets past the file's 0600 mode as another user; such a peer is still refused, as .NET does.
                socket.Dispose();
                continue;
            }

            try
            {
                var description = peer is { } p
                    ? string.Create(CultureInfo.InvariantCulture, $"{Endpoint} (peer pid {p.ProcessId}, uid {p.UserId})")
                    : Endpoint + " (accepted)";
                return SocketConnector.StartConnection(socket, _options, description);
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
            _socketFile.RemoveIfOwned();
        }

        return ValueTask.CompletedTask;
    }
}
