using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rpc.Health;

namespace Rpc.Hosting;

/// <summary>
/// Listens on every configured endpoint when the host starts; when it stops, reports the server not serving and drains
/// it (<see cref="RpcServer.StopAsync"/>), for no longer than the host waits.
/// </summary>
internal sealed partial class RpcServerHostedService(
    RpcServer server, IOptions<RpcServerEndpointOptions> endpointOptions, ServiceRegistrations registrations, RpcHealthService health, ILogger<RpcServerHostedService> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (endpointOptions.Value.Endpoints.Count == 0)
        {
            LogNoEndpoint(logger);
        }

        foreach (var endpoint in endpointOptions.Value.Endpoints)
        {
            var bound = await server.ListenAsync(endpoint, cancellationToken).ConfigureAwait(false);
            LogListening(logger, bound);
        }

        foreach (var contract in registrations.Contracts)
        {
            health.SetStatus(contract, RpcHealthStatus.Serving);
        }

        health.SetStatus(string.Empty, RpcHealthStatus.Serving);
    }

    /// <remarks>
    /// <paramref name="cancellationToken"/> fires when the host's own shutdown timeout passes: the server then cancels the
    /// calls still running and closes its connections at once.
    /// </remarks>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        health.Stop();
        LogStopping(logger, server.Connections.Count);
        await server.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 7001, EventName = "HostedServerListening", Level = LogLevel.Information, Message = "Rpc server listening on {Endpoint}")]
    private static partial void LogListening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 7002, EventName = "HostedServerWithoutEndpoint", Level = LogLevel.Warning, Message = "Rpc server has no endpoint to listen on: set Rpc:Server:Endpoints or call ListenOn")]
    private static partial void LogNoEndpoint(ILogger logger);

    [LoggerMessage(EventId = 7003, EventName = "HostedServerStopping", Level = LogLevel.Information, Message = "Rpc server stopping: draining {Connections} connections")]
    private static partial void LogStopping(ILogger logger, int connections);
}
