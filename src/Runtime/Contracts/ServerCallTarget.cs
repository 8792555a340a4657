using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Serialization;

namespace Rpc.Runtime;

/// <summary>
/// What an <see cref="RpcServerCall"/> completes: the protocol that received the call. Generated stubs see only this,
/// so a protocol serves them by implementing it, and no generated-code type names a protocol.
/// </summary>
/// <remarks>
/// A call is identified by its request id and a kind byte the protocol gives it (the binary protocol's frame kind);
/// both are the protocol's own, passed back unchanged.
/// </remarks>
internal abstract class ServerCallTarget
{
    public abstract CancellationToken GetCancellationToken(uint requestId, byte kind);

    public abstract void Complete(uint requestId, byte kind, Task task);

    public abstract void Complete(uint requestId, byte kind, ValueTask task);

    public abstract void Complete<TResult>(uint requestId, byte kind, Task<TResult> task, RpcFormatter<TResult> resultFormatter);

    public abstract void Complete<TResult>(uint requestId, byte kind, ValueTask<TResult> task, RpcFormatter<TResult> resultFormatter);

    public abstract void CompleteStream<TItem>(uint requestId, byte kind, IAsyncEnumerable<TItem> items, RpcFormatter<TItem> itemFormatter);

    public abstract void MethodNotFound(uint requestId, byte kind);
}
