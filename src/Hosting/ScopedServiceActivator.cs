using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting;

/// <summary>
/// Serves each call with an implementation made in a dependency-injection scope of its own, disposed (and the scope
/// with it) when the call is over (<see cref="RpcServiceLifetime.PerCall"/>).
/// </summary>
/// <remarks>
/// The implementation is made here, not resolved, so its constructor gets the call's <see cref="RpcConnection"/> as an
/// argument: a container that resolved the connection would own it, and dispose it (closing it) with the call's scope.
/// Its other parameters come from the scope.
/// </remarks>
internal sealed class ScopedServiceActivator<TContract, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>
    : IRpcServiceActivator<TContract>
    where TContract : class
    where TImplementation : class, TContract
{
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly ObjectFactory<TImplementation> _factory;
    private readonly bool _takesConnection;

    public ScopedServiceActivator(IServiceScopeFactory scopeFactory)
    {
        _scopeFactory = scopeFactory;
        _takesConnection = typeof(TImplementation).GetConstructors()
            .Any(constructor => constructor.GetParameters().Any(parameter => parameter.ParameterType == typeof(RpcConnection)));
        _factory = ActivatorUtilities.CreateFactory<TImplementation>(_takesConnection ? [typeof(RpcConnection)] : []);
    }

    public RpcActivatorHandle<TContract> Create(RpcConnection connection)
    {
        var scope = _scopeFactory.CreateAsyncScope();
        try
        {
            return new RpcActivatorHandle<TContract>(_factory(scope.ServiceProvider, _takesConnection ? [connection] : null), scope);
        }
        catch
        {
            // The call fails with the construction's exception; what the scope made before it is disposed meanwhile.
            var disposing = scope.DisposeAsync();
            if (!disposing.IsCompletedSuccessfully)
            {
                _ = disposing.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            throw;
        }
    }

    public async ValueTask ReleaseAsync(RpcActivatorHandle<TContract> service)
    {
        var scope = (AsyncServiceScope)service.State!;
        try
        {
            switch (service.Instance)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
        finally
        {
            await scope.DisposeAsync().ConfigureAwait(false);
        }
    }
}
