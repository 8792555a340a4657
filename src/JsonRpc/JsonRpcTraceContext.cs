using System;
using System.Diagnostics;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;
using Rpc.Diagnostics;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// Carries the caller's span as the top-level <c>traceparent</c> and <c>tracestate</c> properties of a request, the
/// convention of StreamJsonRpc's <see cref="ActivityTracingStrategy"/>, so traces join JSON-RPC peers that use it.
/// Only Rpc's own client spans are sent (none when nothing listens, so no bytes are added); the serving side reads
/// the properties itself (<see cref="JsonRpcEngine"/>) to parent its server span, so this strategy starts no activity.
/// </summary>
internal sealed class JsonRpcTraceContext : IActivityTracingStrategy
{
    public static JsonRpcTraceContext Instance { get; } = new();

    public void ApplyOutboundActivity(JsonRpcRequest request)
    {
        if (Activity.Current is { } activity && activity.Source == RpcTelemetry.Activities && activity.IdFormat == ActivityIdFormat.W3C)
        {
            request.TraceParent = activity.Id;
            request.TraceState = activity.TraceStateString;
        }
    }

    public IDisposable? ApplyInboundActivity(JsonRpcRequest request) => null;
}
