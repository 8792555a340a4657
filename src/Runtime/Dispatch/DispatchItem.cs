using System.Diagnostics;
using System.Threading.Tasks;

namespace Rpc;

/// <summary>
/// One incoming call waiting in an <see cref="RpcDispatcher"/>'s queue, whichever protocol read it: the dispatcher and
/// its per-connection lanes see only this.
/// </summary>
internal abstract class DispatchItem
{
    /// <summary>Gets when the call was queued (a <see cref="Stopwatch"/> timestamp), for the queue-wait histogram.</summary>
    public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>Runs the call; completes when it has finished (its reply produced). Never throws.</summary>
    public abstract Task RunAsync();
}
