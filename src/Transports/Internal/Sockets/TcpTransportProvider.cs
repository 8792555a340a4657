using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.Sockets;

/// <summary><c>tcp://host:port</c>: TCP, IPv4 or IPv6; the host may be a name, an address, or <c>[::1]</c>.</summary>
internal sealed class TcpTransportProvider : ITransportProvider
{
    private static readonly string[] SchemeNames = ["tcp"];

    public IReadOnlyList<string> Schemes => SchemeNames;

    public async ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        var (socket, bound) = await BindAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        return AcceptLoopListener.WithoutHandshake(socket, bound, socketFile: null, peer => SocketConnector.StartConnection(peer, options, DescribePeer(peer, bound)));
    }

    /// <summary>Binds and listens on a TCP endpoint; returns the socket and the endpoint as bound (the real port for port 0).</summary>
    internal static async ValueTask<(Socket Socket, string Bound)> BindAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        CheckShape(endpoint);
        var addresses = await ResolveAsync(endpoint, cancellationToken).ConfigureAwait(false);
        var address = addresses[0];

        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, endpoint.Port));
            socket.Listen(options.ListenBacklog);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new System.IO.IOException($"Cannot listen on {endpoint.Original}: {ex.Message}.", ex);
        }

        return (socket, Format((IPEndPoint)socket.LocalEndPoint!));
    }

    /// <summary>Names an accepted peer by its address, for error messages.</summary>
    internal static string DescribePeer(Socket peer, string bound) =>
        peer.RemoteEndPoint is IPEndPoint remote ? Format(remote) : bound + " (accepted)";

    public async ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        CheckShape(endpoint);
        if (endpoint.Port == 0)
        {
            throw new FormatException($"'{endpoint.Original}': port 0 means 'any port' and is only valid for listening.");
        }

        var addresses = await ResolveAsync(endpoint, cancellationToken).ConfigureAwait(false);
        var candidates = addresses.Select(address => (EndPoint)new IPEndPoint(address, endpoint.Port)).ToArray();
        return await SocketConnector.ConnectAsync(candidates, endpoint.Original, options, cancellationToken).ConfigureAwait(false);
    }

    internal static string Format(IPEndPoint endpoint) =>
        endpoint.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"tcp://[{endpoint.Address}]:{endpoint.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"tcp://{endpoint.Address}:{endpoint.Port}");

    private static void CheckShape(RpcEndpoint endpoint)
    {
        if (endpoint.Host.Length == 0 || endpoint.Port < 0 || (endpoint.Path.Length != 0 && endpoint.Path != "/"))
        {
            throw new FormatException($"'{endpoint.Original}' is not a TCP endpoint: expected tcp://host:port, for example tcp://127.0.0.1:5000 or tcp://[::1]:0.");
        }
    }

    private static async ValueTask<IPAddress[]> ResolveAsync(RpcEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(endpoint.Host, out var literal))
        {
            return [literal];
        }

        if (endpoint.Host == "*")
        {
            return [IPAddress.Any];
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new System.IO.IOException($"Cannot resolve the host of {endpoint.Original}: {ex.Message}.", ex);
        }

        addresses = addresses.Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).ToArray();
        return addresses.Length != 0
            ? addresses
            : throw new System.IO.IOException($"The host of {endpoint.Original} resolved to no IPv4 or IPv6 address.");
    }
}
