using System.Threading.Tasks;

namespace Rpc;

/// <summary>
/// Makes the implementation of a contract for one call and is told when that call is over: serves a contract per call
/// (<see cref="RpcServer.AddService{TContract}(IRpcServiceActivator{TContract})"/>), for example from a
/// dependency-injection scope of its own.
/// </summary>
/// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
/// <remarks>
/// <see cref="ReleaseAsync"/> runs exactly once for each <see cref="Create"/> that returned, when what the method
/// returned is over: its task completed (with a result, an exception or a cancellation), its stream ended or was
/// abandoned by the caller, its notification returned; also when the method threw before returning, or the call's
/// arguments could not be read. A call completes only once its release has: a release that throws fails a call that
/// returned a task (a failure of the method itself is reported first).
/// </remarks>
public interface IRpcServiceActivator<TContract>
    where TContract : class
{
    /// <summary>Makes the implementation that serves one call.</summary>
    /// <param name="connection">The connection the call came in on.</param>
    /// <returns>The implementation, with whatever state <see cref="ReleaseAsync"/> needs to release it.</returns>
    RpcActivatorHandle<TContract> Create(RpcConnection connection);

    /// <summary>Releases the implementation of a call that is over.</summary>
    /// <param name="service">What <see cref="Create"/> returned for the call.</param>
    /// <returns>A task that completes when the implementation is released.</returns>
    ValueTask ReleaseAsync(RpcActivatorHandle<TContract> service);
}

/// <summary>An implementation made by an <see cref="IRpcServiceActivator{TContract}"/> for one call.</summary>
/// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
/// <param name="instance">The implementation.</param>
/// <param name="state">What the activator needs to release it (a dependency-injection scope, say), or <see langword="null"/>.</param>
public readonly struct RpcActivatorHandle<TContract>(TContract instance, object? state)
    where TContract : class
{
    /// <summary>Gets the implementation.</summary>
    public TContract Instance { get; } = instance;

    /// <summary>Gets the activator's state for this implementation.</summary>
    public object? State { get; } = state;
}
