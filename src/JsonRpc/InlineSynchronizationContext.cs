using System.Threading;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// Makes StreamJsonRpc invoke server methods inline on its read loop, in the order the peer sent them, as the binary
/// protocol does: no thread-pool hop per call, and notifications run in order. Without it StreamJsonRpc posts every
/// invocation to the thread pool, so two notifications sent back to back may run in either order.
/// </summary>
/// <remarks>
/// As with the binary protocol, a server method must not block synchronously before its first <c>await</c>: that would
/// stall the connection. Code after the method's first <c>await</c> runs wherever the awaited task completes; this
/// context is never installed as <see cref="SynchronizationContext.Current"/>.
/// </remarks>
internal sealed class InlineSynchronizationContext : SynchronizationContext
{
    public static InlineSynchronizationContext Instance { get; } = new();

    public override void Post(SendOrPostCallback d, object? state) => d(state);

    public override void Send(SendOrPostCallback d, object? state) => d(state);

    public override SynchronizationContext CreateCopy() => this;
}
