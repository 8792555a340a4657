using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Health;

/// <summary>
/// The health contract every hosted server serves (the semantics of gRPC's <c>grpc.health.v1.Health</c>): a service name
/// is a contract's name or a health-check tag, and <c>""</c> asks about the whole server.
/// </summary>
[RpcContract]
public interface IRpcHealth
{
    /// <summary>Tells whether <paramref name="service"/> can take calls now.</summary>
    /// <param name="service">The service, or <c>""</c> for the whole server.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Its status; <see cref="RpcHealthStatus.ServiceUnknown"/> for a service the server does not know.</returns>
    Task<RpcHealthStatus> CheckAsync(string service, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the status of <paramref name="service"/>: the current one at once, then each change. The stream ends when
    /// the server stops, after <see cref="RpcHealthStatus.NotServing"/>.
    /// </summary>
    /// <param name="service">The service, or <c>""</c> for the whole server.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The statuses.</returns>
    IAsyncEnumerable<RpcHealthStatus> WatchAsync(string service, CancellationToken cancellationToken = default);
}

/// <summary>The health of a service, as in <c>grpc.health.v1.HealthCheckResponse.ServingStatus</c>.</summary>
public enum RpcHealthStatus
{
    /// <summary>Not known yet.</summary>
    Unknown = 0,

    /// <summary>Takes calls.</summary>
    Serving = 1,

    /// <summary>Refuses or fails calls: unhealthy, or the server is stopping.</summary>
    NotServing = 2,

    /// <summary>The server knows no service of that name (a watch sees it until the service appears).</summary>
    ServiceUnknown = 3,
}
