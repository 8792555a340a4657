using System;

namespace Rpc;

/// <summary>
/// Gives calls of a contract method (or, on the contract interface, of each of its methods that has a reply) a
/// deadline: the caller waits at most this long, then gets <see cref="RpcTimeoutException"/>, and the server method's
/// <c>CancellationToken</c> fires at the same moment. A method's own attribute wins over its interface's; a call made
/// inside an <c>RpcCallOptions</c> scope wins over both; without either, the connection's <c>DefaultCallTimeout</c>
/// applies. Not valid on a notification (a <c>void</c> method), which has no reply to wait for.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Interface, AllowMultiple = false, Inherited = false)]
public sealed class RpcTimeoutAttribute : Attribute
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="milliseconds">The timeout in milliseconds; must be positive.</param>
    public RpcTimeoutAttribute(int milliseconds)
    {
        Milliseconds = milliseconds;
    }

    /// <summary>Gets the timeout in milliseconds.</summary>
    public int Milliseconds { get; }
}
