using System;

namespace Rpc.Hosting;

/// <summary>
/// An <see cref="RpcClient"/> the container owns. Disposing it (with the container, either way) stops the client at
/// once (calls fail with <see cref="ObjectDisposedException"/>) and starts closing its connection, without waiting for
/// the close.
/// </summary>
/// <remarks>
/// Waiting could wait for itself. Without a synchronization context the code after an awaited call runs on the thread
/// that received the reply, and closing the connection waits for that thread's receive loop to end; a host disposed
/// there with <c>using</c> (whose <c>Dispose</c> blocks on its asynchronous disposal) would never return.
/// </remarks>
internal sealed class ContainerOwnedClient(RpcClient client) : IDisposable
{
    public RpcClient Client { get; } = client;

    public void Dispose() => _ = Client.DisposeAsync().AsTask();
}
