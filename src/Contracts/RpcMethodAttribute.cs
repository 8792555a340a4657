using System;

namespace Rpc;

/// <summary>
/// Sets the wire name of a contract method. Without it the wire name is the method name with a trailing
/// <c>Async</c> removed (<c>AddAsync</c> → <c>Add</c>).
/// </summary>
/// <remarks>
/// The wire name is what JSON-RPC peers send as <c>"method"</c>, and its 32-bit FNV-1a hash is the method id of the
/// binary protocol; so renaming a C# method while keeping its wire name keeps old peers working.
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RpcMethodAttribute : Attribute
{
    /// <summary>Initializes the attribute with the name the method has on the wire.</summary>
    /// <param name="name">The wire name; must be unique within the contract and every contract it extends.</param>
    public RpcMethodAttribute(string name) => Name = name;

    /// <summary>Gets the name the method has on the wire.</summary>
    public string Name { get; }
}
