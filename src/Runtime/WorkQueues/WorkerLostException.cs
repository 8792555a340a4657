using System;

namespace Rpc;

/// <summary>
/// A work-queue worker was lost (its process died or its connection closed) while it ran the call, and the call was not
/// re-run on another worker: the method is not marked <c>[RpcIdempotent]</c>, or its attempts ran out. The call may or
/// may not have run, wholly or in part; the work queue never runs it again on its own.
/// </summary>
/// <remarks>
/// The hub throws it; a producer made with <see cref="RpcWorkQueue.CreateProducer{TContract}(RpcConnection, WorkQueueProducerOptions)"/> sees it as this type
/// too (a raw proxy sees a <see cref="RemoteInvocationException"/> whose <see cref="RemoteInvocationException.RemoteTypeName"/>
/// is <c>Rpc.WorkerLostException</c>; <see cref="RpcWorkQueue.IsWorkerLost"/> recognizes both).
/// </remarks>
public class WorkerLostException : RpcException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public WorkerLostException()
        : base("The worker running the call was lost; the call may or may not have run and was not re-run.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What happened.</param>
    public WorkerLostException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and the connection error that revealed the loss.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The error, usually a <see cref="ConnectionLostException"/>.</param>
    public WorkerLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
