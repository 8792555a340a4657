using System;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports;

/// <summary>Accepts connections on one bound endpoint.</summary>
public abstract class TransportListener : IAsyncDisposable
{
    /// <summary>
    /// Gets the endpoint actually bound, in endpoint-string form (for <c>tcp://127.0.0.1:0</c> this names the port the OS chose).
    /// </summary>
    public abstract string Endpoint { get; }

    /// <summary>Waits for the next connection.</summary>
    /// <param name="cancellationToken">Stops waiting; the listener stays bound.</param>
    /// <returns>The accepted connection, or <see langword="null"/> once the listener is disposed.</returns>
    public abstract ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops listening and releases the endpoint (a Unix socket file is removed). Idempotent.</summary>
    /// <returns>A task that completes when the endpoint is released.</returns>
    public abstract ValueTask DisposeAsync();
}
