using System.Threading;
using Rpc.Runtime;

namespace Rpc.Connections;

/// <summary>
/// A message prepared once for every connection of one protocol (<see cref="ProtocolConnection.PrepareNotification{TArguments}"/>),
/// then sent to each of them (<see cref="ProtocolConnection.SendPrepared"/>): a group's fan-out. Reference-counted, so
/// what it holds (pooled bytes) is released when the last connection has sent or dropped it.
/// </summary>
internal abstract class PreparedMessage
{
    // The publisher holds one reference while it fans out; each member queue holds one more.
    private int _references = 1;

    protected PreparedMessage(RpcProtocol protocol) => Protocol = protocol;

    /// <summary>Gets the protocol whose connections send this message.</summary>
    public RpcProtocol Protocol { get; }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            OnReleased();
        }
    }

    /// <summary>Throws an <see cref="RpcException"/> when a connection with <paramref name="options"/> cannot send this message.</summary>
    public virtual void EnsureSendableWith(RpcConnectionOptions options)
    {
    }

    protected virtual void OnReleased()
    {
    }
}

/// <summary>
/// A notification kept as its arguments, for protocols that serialize per connection: each connection sends it with its
/// own <see cref="IRpcInvoker.Notify{TArguments}"/>.
/// </summary>
internal abstract class DeferredNotification(RpcProtocol protocol) : PreparedMessage(protocol)
{
    public abstract void SendTo(ProtocolConnection connection);
}

internal sealed class DeferredNotification<TArguments>(RpcProtocol protocol, RpcMethod method, TArguments arguments) : DeferredNotification(protocol)
    where TArguments : struct, IRpcArguments<TArguments>
{
    public override void SendTo(ProtocolConnection connection) => connection.Notify(method, arguments);
}
