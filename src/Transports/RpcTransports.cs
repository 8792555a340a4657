using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Pipes;
using Rpc.Transports.Internal.SharedMemory;
using Rpc.Transports.Internal.Sockets;
using Rpc.Transports.Internal.Tls;

namespace Rpc.Transports;

/// <summary>
/// The transport factory: turns an endpoint string into a listener or a connection, choosing the transport by scheme.
/// </summary>
public static class RpcTransports
{
    private static readonly ConcurrentDictionary<string, ITransportProvider> Providers = CreateBuiltInProviders();

    /// <summary>Binds an endpoint and starts listening.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/app.sock</c> or <c>tcp://127.0.0.1:0</c>.</param>
    /// <param name="options">Transport settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the bind.</param>
    /// <returns>The bound listener.</returns>
    /// <exception cref="NotSupportedException">No transport handles the endpoint's scheme.</exception>
    public static ValueTask<TransportListener> ListenAsync(string endpoint, TransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        var parsed = RpcEndpoint.Parse(endpoint);
        return ProviderFor(parsed).ListenAsync(parsed, options ?? TransportOptions.Default, cancellationToken);
    }

    /// <summary>Connects to an endpoint.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/app.sock</c> or <c>tcp://127.0.0.1:5000</c>.</param>
    /// <param name="options">Transport settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The established connection.</returns>
    /// <exception cref="NotSupportedException">No transport handles the endpoint's scheme.</exception>
    public static ValueTask<TransportConnection> ConnectAsync(string endpoint, TransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        var parsed = RpcEndpoint.Parse(endpoint);
        return ProviderFor(parsed).ConnectAsync(parsed, options ?? TransportOptions.Default, cancellationToken);
    }

    /// <summary>Adds (or replaces) the transport for each of the provider's schemes.</summary>
    /// <param name="provider">The transport.</param>
    public static void Register(ITransportProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        foreach (var scheme in provider.Schemes)
        {
            Providers[scheme] = provider;
        }
    }

    private static ITransportProvider ProviderFor(RpcEndpoint endpoint) =>
        Providers.TryGetValue(endpoint.Scheme, out var provider)
            ? provider
            : throw new NotSupportedException($"No transport handles '{endpoint.Scheme}://' (endpoint '{endpoint.Original}'). Known schemes: {string.Join(", ", Providers.Keys)}.");

    private static ConcurrentDictionary<string, ITransportProvider> CreateBuiltInProviders()
    {
        var providers = new ConcurrentDictionary<string, ITransportProvider>(StringComparer.Ordinal);
        foreach (var provider in new ITransportProvider[] { new UnixSocketTransportProvider(), new TcpTransportProvider(), new NamedPipeTransportProvider(), new TlsTransportProvider(), new SharedMemoryTransportProvider() })
        {
            foreach (var scheme in provider.Schemes)
            {
                providers[scheme] = provider;
            }
        }

        return providers;
    }
}
