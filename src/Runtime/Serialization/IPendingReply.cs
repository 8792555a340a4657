using System;
using System.Threading;

namespace Rpc.Serialization;

/// <summary>
/// A call waiting for its reply, as a protocol keeps it and <see cref="RpcResultReader"/> completes it. Exactly one of
/// the members is invoked, once, by whoever removes the call from its connection's pending calls: the receive loop, the
/// caller's cancellation, or the connection's close.
/// </summary>
internal interface IPendingReply
{
    void Fail(Exception exception);

    void Cancel(CancellationToken cancellationToken);

    /// <summary>A reply without a value, or the end of a stream.</summary>
    void Complete();
}

/// <summary>A pending call that receives values of <typeparamref name="T"/> (a result, or stream items).</summary>
internal interface IPendingReply<in T> : IPendingReply
{
    void Deliver(T value);
}
