using System;
using System.Buffers;
using System.Threading;
using Rpc.Connections;
using Rpc.Protocols.Binary;
using Rpc.Runtime;

namespace Rpc.Groups;

/// <summary>
/// One broadcast message as it waits in member queues: shared by every member it was queued for, and reference-counted
/// so its pooled bytes go back to the pool when the last member has sent or dropped it.
/// </summary>
internal abstract class GroupMessage
{
    // The publisher holds one reference while it fans out; each queue holds one more.
    private int _references = 1;

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            OnReleased();
        }
    }

    protected virtual void OnReleased()
    {
    }
}

/// <summary>A binary-protocol notification frame, serialized once, sent as the same bytes to every binary member.</summary>
internal sealed class BroadcastFrame : GroupMessage
{
    private byte[]? _array;

    private BroadcastFrame(byte[] array, int length)
    {
        _array = array;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Bytes => _array.AsSpan(0, Length);

    public static BroadcastFrame Create<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var array = BinaryProtocolConnection.RentNotificationFrame(method, arguments, out var length);
        return new BroadcastFrame(array, length);
    }

    protected override void OnReleased()
    {
        if (Interlocked.Exchange(ref _array, null) is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}

/// <summary>
/// A notification for members whose protocol cannot take pre-built frames (JSON-RPC): each member's sender loop sends
/// it with the protocol's own <see cref="IRpcInvoker.Notify{TArguments}"/>.
/// </summary>
internal abstract class ProtocolNotification : GroupMessage
{
    public abstract void SendTo(ProtocolConnection protocol);
}

internal sealed class ProtocolNotification<TArguments>(RpcMethod method, TArguments arguments) : ProtocolNotification
    where TArguments : struct, IRpcArguments<TArguments>
{
    public override void SendTo(ProtocolConnection protocol) => protocol.Notify(method, arguments);
}
