using System;
using System.Threading.Tasks;

namespace Rpc.Hosting;

/// <summary>
/// An <see cref="RpcClient"/> the container owns. The container disposes it in either way it is disposed: a container
/// disposed synchronously (<c>using var host = builder.Build()</c>) throws for a service that is only
/// <see cref="IAsyncDisposable"/>, as <see cref="RpcClient"/> is.
/// </summary>
internal sealed class ContainerOwnedClient(RpcClient client) : IDisposable, IAsyncDisposable
{
    public RpcClient Client { get; } = client;

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    // On the thread pool, so a caller's synchronization context cannot be what the disposal waits for.
    public void Dispose() => Task.Run(() => Client.DisposeAsync().AsTask()).GetAwaiter().GetResult();
}
