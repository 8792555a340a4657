using System;
using System.Collections.Immutable;
using System.ComponentModel;
using MessagePack;

namespace Rpc.Runtime;

/// <summary>
/// The server side of one contract bound to one implementation. Generated subclasses dispatch with a
/// <see langword="switch"/> over the method id (binary protocol) and register one typed delegate per method
/// (JSON-RPC protocol): the same stub serves both protocols, with no reflection of its own.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class RpcStub
{
    /// <summary>Initializes the stub with its contract's method table.</summary>
    /// <param name="methods">The method table.</param>
    protected RpcStub(ImmutableArray<RpcMethod> methods) => Methods = methods;

    /// <summary>Gets the method table of the contract this stub serves.</summary>
    public ImmutableArray<RpcMethod> Methods { get; }

    /// <summary>
    /// Reads the arguments of <paramref name="methodId"/>, invokes the implementation and hands its task to
    /// <paramref name="call"/>. Called on the connection's receive path; must not block.
    /// </summary>
    /// <param name="methodId">The <see cref="RpcMethod.Id"/> the peer asked for.</param>
    /// <param name="arguments">The MessagePack-encoded arguments.</param>
    /// <param name="call">Completes the call (reply, error, stream) and supplies its cancellation token.</param>
    public abstract void Dispatch(uint methodId, ref MessagePackReader arguments, RpcServerCall call);

    /// <summary>Registers one strongly typed delegate per method, for protocols that bind parameters by themselves.</summary>
    /// <param name="registry">Receives the delegates.</param>
    public abstract void AddDelegates(IRpcDelegateRegistry registry);
}

/// <summary>Receives the typed delegates of a stub (see <see cref="RpcStub.AddDelegates"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRpcDelegateRegistry
{
    /// <summary>Adds the handler of one method.</summary>
    /// <param name="method">The method-table row.</param>
    /// <param name="handler">A delegate whose parameters are the method's, named as in the contract.</param>
    void Add(RpcMethod method, Delegate handler);
}
