using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting;

/// <summary>One dependency-injection scope per connection, shared by its per-connection services, disposed when it closes.</summary>
internal sealed class ConnectionScopes(IServiceScopeFactory scopeFactory)
{
    private readonly Dictionary<RpcConnection, AsyncServiceScope> _scopes = [];

    public IServiceProvider For(RpcConnection connection)
    {
        AsyncServiceScope scope;
        lock (_scopes)
        {
            if (_scopes.TryGetValue(connection, out scope))
            {
                return scope.ServiceProvider;
            }

            scope = scopeFactory.CreateAsyncScope();
            _scopes.Add(connection, scope);
        }

        scope.ServiceProvider.GetRequiredService<ConnectionHolder>().Connection = connection;
        _ = DisposeWhenClosedAsync(connection, scope);
        return scope.ServiceProvider;
    }

    private async Task DisposeWhenClosedAsync(RpcConnection connection, AsyncServiceScope scope)
    {
        await connection.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_scopes)
        {
            _scopes.Remove(connection);
        }

        await scope.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The connection of a per-connection scope, so the container can inject it.</summary>
internal sealed class ConnectionHolder
{
    public RpcConnection? Connection { get; set; }

    public RpcConnection Get() =>
        Connection ?? throw new InvalidOperationException(
            "An RpcConnection can only be injected into a service resolved for a connection (RpcServiceLifetime.PerConnection), or into the " +
            "constructor of a per-call implementation (RpcServiceLifetime.PerCall; not into its scoped dependencies, whose scope would own and close it).");
}
