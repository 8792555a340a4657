using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Rpc.Runtime;

/// <summary>
/// Finds the generated <see cref="RpcContract{TContract}"/> of a contract interface without scanning assemblies:
/// generated module initializers register each contract; lookups read a static generic field.
/// </summary>
public static class RpcContractRegistry
{
    /// <summary>Registers a contract. Called by generated module initializers; the last registration wins.</summary>
    /// <typeparam name="TContract">The contract interface.</typeparam>
    /// <param name="contract">The generated contract.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register<TContract>(RpcContract<TContract> contract)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(contract);
        foreach (var method in contract.Methods)
        {
            method.ServiceName = contract.Name;
        }

        Registered<TContract>.Contract = contract;
    }

    /// <summary>Gets the generated contract of <typeparamref name="TContract"/>.</summary>
    /// <typeparam name="TContract">The contract interface.</typeparam>
    /// <returns>The generated contract.</returns>
    /// <exception cref="InvalidOperationException">
    /// <typeparamref name="TContract"/> is not an <c>[RpcContract]</c> interface compiled with the Rpc generator.
    /// </exception>
    public static RpcContract<TContract> Get<TContract>()
        where TContract : class
    {
        var contract = Registered<TContract>.Contract;
        if (contract is not null)
        {
            return contract;
        }

        // Module initializers run on first access to a method or static field of their module; naming the interface
        // with typeof does neither, so a contract assembly nobody has touched yet is initialized here.
        RuntimeHelpers.RunModuleConstructor(typeof(TContract).Module.ModuleHandle);
        return Registered<TContract>.Contract
            ?? throw new InvalidOperationException(typeof(TContract).IsInterface
                ? $"'{typeof(TContract).FullName}' has no generated Rpc contract. Mark the interface with [Rpc.RpcContract] " +
                  "and make sure the project references the Rpc generator (Rpc.Generator as an analyzer)."
                : $"'{typeof(TContract).FullName}' is not an interface; a contract is an [Rpc.RpcContract] interface. Name it as the " +
                  "type argument, as in AddService<ICalculator>(implementation) (or (activator), for an IRpcServiceActivator<ICalculator>).");
    }

    private static class Registered<TContract>
        where TContract : class
    {
        public static RpcContract<TContract>? Contract;
    }
}
