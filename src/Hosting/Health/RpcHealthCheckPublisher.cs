using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Rpc.Health;

/// <summary>
/// Feeds <see cref="RpcHealthService"/> from each health report: <c>""</c> is the whole report, and a service is served
/// only while every check named or tagged with its name is <see cref="HealthStatus.Healthy"/>.
/// </summary>
internal sealed class RpcHealthCheckPublisher(RpcHealthService health) : IHealthCheckPublisher
{
    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        health.SetStatus(string.Empty, ToStatus(report.Status));
        var services = new Dictionary<string, HealthStatus>(StringComparer.Ordinal);
        foreach (var (name, entry) in report.Entries)
        {
            Merge(services, name, entry.Status);
            foreach (var tag in entry.Tags)
            {
                Merge(services, tag, entry.Status);
            }
        }

        foreach (var (service, status) in services)
        {
            health.SetStatus(service, ToStatus(status));
        }

        return Task.CompletedTask;
    }

    private static void Merge(Dictionary<string, HealthStatus> services, string service, HealthStatus status) =>
        services[service] = services.TryGetValue(service, out var worst) && worst < status ? worst : status;

    private static RpcHealthStatus ToStatus(HealthStatus status) =>
        status == HealthStatus.Healthy ? RpcHealthStatus.Serving : RpcHealthStatus.NotServing;
}
