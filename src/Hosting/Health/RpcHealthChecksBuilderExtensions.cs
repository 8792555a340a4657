using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Rpc;
using Rpc.Health;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds health checks of remote Rpc servers to a host's own health checks.</summary>
public static class RpcHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check that asks a server's <see cref="IRpcHealth"/> about <paramref name="service"/>: healthy when it answers
    /// <see cref="RpcHealthStatus.Serving"/>, <paramref name="failureStatus"/> when it answers anything else or cannot be
    /// reached. It calls through the keyed client <paramref name="name"/> (options from <c>Rpc:Clients:&lt;name&gt;</c>),
    /// which it shares with other contracts registered under that key.
    /// </summary>
    /// <param name="builder">The health checks.</param>
    /// <param name="name">The check's name and its client's key.</param>
    /// <param name="endpoint">The server's endpoint, or <see langword="null"/> to take it from configuration.</param>
    /// <param name="service">The service to ask about, or <c>""</c> for the whole server.</param>
    /// <param name="failureStatus">The status reported when the server is not serving; <see langword="null"/> for <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags of the check.</param>
    /// <param name="timeout">How long the check may take; <see langword="null"/> for 5 seconds.</param>
    /// <returns>The health checks.</returns>
    public static IHealthChecksBuilder AddRpcServerCheck(
        this IHealthChecksBuilder builder, string name, string? endpoint = null, string service = "", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(service);
        builder.Services.AddKeyedRpcClient<IRpcHealth>(name, options =>
        {
            // The first check of a process would otherwise fail while its client makes the first connection; the
            // check's timeout bounds the wait.
            options.Client.WaitForReady = true;
            if (endpoint is not null)
            {
                options.Endpoint = endpoint;
            }
        });
        return builder.Add(new HealthCheckRegistration(
            name,
            provider => new RpcServerHealthCheck(provider.GetRequiredKeyedService<IRpcHealth>(name), service),
            failureStatus,
            tags,
            timeout ?? TimeSpan.FromSeconds(5)));
    }

    private sealed class RpcServerHealthCheck(IRpcHealth health, string service) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var status = await health.CheckAsync(service, cancellationToken).ConfigureAwait(false);
                return status == RpcHealthStatus.Serving
                    ? HealthCheckResult.Healthy()
                    : new HealthCheckResult(context.Registration.FailureStatus, $"The server reports '{service}' {status}.");
            }
            catch (RpcException exception)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, $"The server could not be asked: {exception.Message}", exception);
            }
        }
    }
}
