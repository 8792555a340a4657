using System.Net;
using System.Net.Sockets;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>
/// A Unix socket address that does not make <see cref="Socket.Dispose()"/> delete the socket file.
/// </summary>
/// <remarks>
/// <see cref="Socket.Bind"/> with a <see cref="UnixDomainSocketEndPoint"/> remembers the path and
/// <see cref="Socket.Dispose()"/> unlinks it unconditionally, even when another server has replaced the file since. Binding
/// through this wrapper keeps the same native address but leaves removal to <see cref="UnixSocketFile"/>.
/// </remarks>
internal sealed class UnixEndPointWithoutCleanup : EndPoint
{
    private readonly UnixDomainSocketEndPoint _inner;

    public UnixEndPointWithoutCleanup(string path) => _inner = new UnixDomainSocketEndPoint(path);

    public override AddressFamily AddressFamily => AddressFamily.Unix;

    public override SocketAddress Serialize() => _inner.Serialize();

    public override EndPoint Create(SocketAddress socketAddress) => _inner.Create(socketAddress);

    public override string ToString() => _inner.ToString();
}
