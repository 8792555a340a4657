using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports;

/// <summary>
/// Implements one or more endpoint schemes (<c>unix</c>, <c>tcp</c>, …). Registering a provider with
/// <see cref="RpcTransports.Register"/> makes its schemes usable everywhere an endpoint string is accepted.
/// </summary>
public interface ITransportProvider
{
    /// <summary>Gets the schemes this provider handles, lower case, without <c>://</c>.</summary>
    IReadOnlyList<string> Schemes { get; }

    /// <summary>Binds <paramref name="endpoint"/> and starts listening.</summary>
    /// <param name="endpoint">The parsed endpoint; its scheme is one of <see cref="Schemes"/>.</param>
    /// <param name="options">Transport settings.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The bound listener.</returns>
    ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken);

    /// <summary>Connects to <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">The parsed endpoint; its scheme is one of <see cref="Schemes"/>.</param>
    /// <param name="options">Transport settings.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The established connection.</returns>
    ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken);
}
