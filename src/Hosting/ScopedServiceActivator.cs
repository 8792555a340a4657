using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting;

/// <summary>
/// Serves each call with an implementation resolved from a dependency-injection scope of its own, whose
/// <see cref="RpcConnection"/> is the call's; the scope is disposed when the call is over (<see cref="RpcServiceLifetime.PerCall"/>).
/// </summary>
internal sealed class ScopedServiceActivator<TContract, TImplementation>(IServiceScopeFactory scopeFactory) : IRpcServiceActivator<TContract>
    where TContract : class
    where TImplementation : class, TContract
{
    public RpcActivatorHandle<TContract> Create(RpcConnection connection)
    {
        var scope = scopeFactory.CreateAsyncScope();
        try
        {
            scope.ServiceProvider.GetRequiredService<ConnectionHolder>().Connection = connection;
            return new RpcActivatorHandle<TContract>(scope.ServiceProvider.GetRequiredService<TImplementation>(), scope);
        }
        catch
        {
            // The call fails with the resolution's exception; what the scope made before it is disposed meanwhile.
            var disposing = scope.DisposeAsync();
            if (!disposing.IsCompletedSuccessfully)
            {
                _ = disposing.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            throw;
        }
    }

    public ValueTask ReleaseAsync(RpcActivatorHandle<TContract> service) => ((AsyncServiceScope)service.State!).DisposeAsync();
}
