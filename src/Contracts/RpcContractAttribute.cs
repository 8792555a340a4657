using System;

namespace Rpc;

/// <summary>
/// Marks an interface as an RPC contract. At build time the Rpc source generator emits, next to the interface,
/// a client proxy, a server stub and the typed serializers of every method.
/// </summary>
/// <remarks>
/// Methods may return <c>Task</c>, <c>Task&lt;T&gt;</c>, <c>ValueTask</c>, <c>ValueTask&lt;T&gt;</c>,
/// <c>IAsyncEnumerable&lt;T&gt;</c> (server-to-client streaming) or <c>void</c> (a one-way notification).
/// A trailing <see cref="System.Threading.CancellationToken"/> cancels the remote call.
/// Contract rules are enforced by the analyzer diagnostics <c>RPC0001</c> onwards.
/// </remarks>
[AttributeUsage(AttributeTargets.Interface, AllowMultiple = false, Inherited = false)]
public sealed class RpcContractAttribute : Attribute
{
}
