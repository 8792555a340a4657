using System;
using System.Threading;
using Rpc.Serialization;

namespace Rpc.Diagnostics;

/// <summary>
/// A pending call whose end is recorded (duration, span) before its caller resumes; made only when someone listens,
/// so an unobserved call keeps its single allocation.
/// </summary>
internal class ObservedReply(IPendingReply inner, CallObservation observation) : IPendingReply
{
    protected CallObservation Observation => observation;

    public void Fail(Exception exception)
    {
        observation.End(exception);
        inner.Fail(exception);
    }

    public void Cancel(CancellationToken cancellationToken)
    {
        observation.End(nameof(RpcErrorCode.Cancelled));
        inner.Cancel(cancellationToken);
    }

    public void Complete()
    {
        observation.End(errorType: null);
        inner.Complete();
    }
}

/// <summary>An <see cref="ObservedReply"/> that receives a result, or the items of a stream (which end it only with the stream).</summary>
internal sealed class ObservedReply<T>(IPendingReply<T> inner, CallObservation observation, bool isStream) : ObservedReply(inner, observation), IPendingReply<T>
{
    public void Deliver(T value)
    {
        if (!isStream)
        {
            Observation.End(errorType: null);
        }

        inner.Deliver(value);
    }
}
