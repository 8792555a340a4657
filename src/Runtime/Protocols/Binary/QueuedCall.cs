using System;
using System.Buffers;
using System.Threading.Tasks;
using Rpc.Diagnostics;
using Rpc.Runtime;

namespace Rpc.Protocols.Binary;

/// <summary>
/// An incoming call waiting in an <see cref="RpcDispatcher"/>'s queue. Its arguments are copied out of the transport's
/// buffer (into a pooled array) because the receive loop moves on while the call waits.
/// </summary>
internal sealed class QueuedCall : DispatchItem
{
    private readonly BinaryProtocolConnection _connection;
    private byte[]? _payload;

    public QueuedCall(BinaryProtocolConnection connection, RpcStub stub, FrameKind kind, uint id, uint methodId, ReadOnlySequence<byte> payload, CallObservation? observation)
    {
        Observation = observation;
        _connection = connection;
        Stub = stub;
        Kind = kind;
        Id = id;
        MethodId = methodId;
        PayloadLength = checked((int)payload.Length);
        _payload = ArrayPool<byte>.Shared.Rent(Math.Max(PayloadLength, 1));
        payload.CopyTo(_payload);
    }

    public RpcStub Stub { get; }

    public FrameKind Kind { get; }

    public uint Id { get; }

    public uint MethodId { get; }

    /// <summary>Gets the call's span and duration, started when it arrived (time queued counts), or <see langword="null"/>.</summary>
    public CallObservation? Observation { get; }

    public int PayloadLength { get; }

    public ReadOnlySequence<byte> Payload => new(_payload ?? throw new ObjectDisposedException(nameof(QueuedCall)), 0, PayloadLength);

    /// <summary>Runs the call; completes when its reply has been sent. Never throws.</summary>
    public override Task RunAsync() => _connection.RunQueuedCallAsync(this);

    public void ReleasePayload()
    {
        if (_payload is { } payload)
        {
            _payload = null;
            ArrayPool<byte>.Shared.Return(payload);
        }
    }
}
