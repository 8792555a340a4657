using System.Collections.Immutable;
using System.ComponentModel;

namespace Rpc.Runtime;

/// <summary>
/// Everything the runtime needs to know about one contract interface: its method table and how to make its proxy and
/// stub. The generator emits one subclass per <c>[RpcContract]</c> interface and registers it at module load, so the
/// runtime never scans assemblies or reflects over types.
/// </summary>
/// <typeparam name="TContract">The contract interface.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class RpcContract<TContract>
    where TContract : class
{
    /// <summary>Gets the contract's name (the interface's full name), used in error messages.</summary>
    public abstract string Name { get; }

    /// <summary>Gets the method table, including methods inherited from base contracts.</summary>
    public abstract ImmutableArray<RpcMethod> Methods { get; }

    /// <summary>Creates a proxy that sends every call through <paramref name="invoker"/>.</summary>
    /// <param name="invoker">The connection's invoker.</param>
    /// <returns>The proxy.</returns>
    public abstract TContract CreateProxy(IRpcInvoker invoker);

    /// <summary>Creates a stub that dispatches incoming calls to <paramref name="implementation"/>.</summary>
    /// <param name="implementation">The object serving the contract.</param>
    /// <returns>The stub.</returns>
    public abstract RpcStub CreateStub(TContract implementation);

    /// <summary>
    /// Registers one strongly typed delegate per method (for protocols that bind parameters by themselves), each calling
    /// the implementation through <paramref name="target"/>.
    /// </summary>
    /// <param name="registry">Receives the delegates.</param>
    /// <param name="target">Supplies the implementation for each call.</param>
    public abstract void AddDelegates(IRpcDelegateRegistry registry, RpcDelegateTarget<TContract> target);
}
