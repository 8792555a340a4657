using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// <c>tls://host:port</c>: TCP (the socket transport, unchanged) with TLS on top (<see cref="SslStream"/>), exposed to
/// the runtime as the same <see cref="System.IO.Pipelines.IDuplexPipe"/> as every other transport.
/// </summary>
internal sealed class TlsTransportProvider : ITransportProvider
{
    /// <summary>
    /// Bytes the TCP layer may buffer under the TLS layer. The TLS connection's own input pipe enforces
    /// <see cref="TransportOptions.MaxBufferedInputBytes"/>; below it a little is enough to keep the socket busy.
    /// </summary>
    private const long UnderlyingMaxBufferedInputBytes = 1024 * 1024;

    private static readonly string[] SchemeNames = ["tls"];
    private static readonly TlsOptions ClientDefaults = new();

    private readonly TcpTransportProvider _tcp = new();

    public IReadOnlyList<string> Schemes => SchemeNames;

    public async ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        var tls = options.Tls;
        if (tls?.ServerCertificate is not { } certificate)
        {
            throw new InvalidOperationException(
                $"Listening on {endpoint.Original} needs a server certificate: set TransportOptions.Tls.ServerCertificate (RpcServerOptions.Connection.Transport.Tls on a server) to an X509Certificate2 with its private key.");
        }

        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException(
                $"Listening on {endpoint.Original} needs the private key of the server certificate '{certificate.Subject}'; load it with its key (for example from a PFX).");
        }

        TlsHandshake.Validate(tls);

        // Built once per listener: the chain is sent in every handshake, and building it per handshake is costly.
        // Offline: intermediates are not fetched from the network in the middle of a bind.
        var context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);

        // The TCP provider does not look at the scheme, so its errors name the tls:// endpoint the caller gave.
        var underlying = UnderlyingOptions(options);
        var (socket, bound) = await TcpTransportProvider.BindAsync(endpoint, underlying, cancellationToken).ConfigureAwait(false);
        return AcceptLoopListener.WithHandshake(socket, "tls://" + StripScheme(bound), socketFile: null, options.HandshakeTimeout, async (peer, token) =>
        {
            var tcp = SocketConnector.StartConnection(peer, underlying, TcpTransportProvider.DescribePeer(peer, bound));
            return await TlsHandshake.AuthenticateAsServerAsync(tcp, "tls://" + StripScheme(tcp.RemoteEndpoint), tls, context, options, token).ConfigureAwait(false);
        });
    }

    public async ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var tls = options.Tls ?? ClientDefaults;
        TlsHandshake.Validate(tls);
        var tcp = await _tcp.ConnectAsync(endpoint, UnderlyingOptions(options), cancellationToken).ConfigureAwait(false);
        return await TlsHandshake.AuthenticateAsClientAsync(tcp, endpoint, tls, options, cancellationToken).ConfigureAwait(false);
    }

    private static string StripScheme(string endpoint)
    {
        var separator = endpoint.IndexOf("://", StringComparison.Ordinal);
        return separator < 0 ? endpoint : endpoint[(separator + 3)..];
    }

    private static TransportOptions UnderlyingOptions(TransportOptions options) => new()
    {
        ConnectTimeout = options.ConnectTimeout,
        UseDedicatedReceiveThread = options.UseDedicatedReceiveThread,
        ListenBacklog = options.ListenBacklog,
        MaxBufferedInputBytes = Math.Min(options.MaxBufferedInputBytes, UnderlyingMaxBufferedInputBytes),
    };
}
