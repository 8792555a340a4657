using System;

namespace Rpc;

/// <summary>
/// Marks a contract method as idempotent: running it twice has the same effect as running it once. Only such methods
/// are re-run on another worker when a work-queue worker dies mid-call; any other call fails with an error instead,
/// so a call is never run twice without this mark.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RpcIdempotentAttribute : Attribute
{
}
