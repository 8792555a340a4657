using System;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Connections;
using Rpc.Diagnostics;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// The transport's <see cref="PipeWriter"/> as StreamJsonRpc sees it: counts what each flush sends
/// (<see cref="ConnectionTelemetry.OnFlushing"/>), which StreamJsonRpc's handler offers no hook for. It wraps every
/// connection, because a listener may start at any time; with none, a flush costs one more virtual call and a check.
/// </summary>
internal sealed class CountingPipeWriter(PipeWriter inner, ProtocolConnection connection) : PipeWriter
{
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        connection.Telemetry.OnFlushing(inner);
        return inner.FlushAsync(cancellationToken);
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        connection.Telemetry.OnFlushing(inner);
        connection.Telemetry.OnTransmitted(source.Length);
        return inner.WriteAsync(source, cancellationToken);
    }
}
