using System.Collections.Generic;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.Sockets;

/// <summary><c>unix:///absolute/path.sock</c>: Unix domain stream sockets.</summary>
internal sealed class UnixSocketTransportProvider : ITransportProvider
{
    private static readonly string[] SchemeNames = ["unix"];

    public IReadOnlyList<string> Schemes => SchemeNames;

    public ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        var path = UnixSocketFile.GetPath(endpoint);
        cancellationToken.ThrowIfCancellationRequested();

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            var file = UnixSocketFile.BindAndListen(socket, path, options.ListenBacklog);
            var bound = "unix://" + path;
            return ValueTask.FromResult<TransportListener>(AcceptLoopListener.WithoutHandshake(socket, bound, file, peer => SocketConnector.StartConnection(peer, options, DescribePeer(bound, peer))));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        var path = UnixSocketFile.GetPath(endpoint);
        return SocketConnector.ConnectAsync([new UnixDomainSocketEndPoint(path)], "unix://" + path, options, cancellationToken);
    }

    /// <summary>Names an accepted peer by its process and user, read from the kernel (SO_PEERCRED), for error messages.</summary>
    private static string DescribePeer(string endpoint, Socket peer) =>
        PeerCredentials.TryGet(peer) is { } credentials
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{endpoint} (peer pid {credentials.ProcessId}, uid {credentials.UserId})")
            : endpoint + " (accepted)";
}
