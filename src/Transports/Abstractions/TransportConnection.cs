using System;
using System.IO.Pipelines;
using System.Threading.Tasks;

namespace Rpc.Transports;

/// <summary>
/// One established byte stream between two peers, exposed as an <see cref="IDuplexPipe"/>: the only contract between a
/// transport and the runtime, so the runtime cannot tell a socket from a pipe or shared memory.
/// </summary>
/// <remarks>
/// The transport completes <see cref="IDuplexPipe.Input"/> when the peer closes (normally) or with an exception when the
/// stream breaks; the runtime completes <see cref="IDuplexPipe.Output"/> to close its side.
/// </remarks>
public abstract class TransportConnection : IAsyncDisposable
{
    /// <summary>Gets the byte stream to and from the peer.</summary>
    public abstract IDuplexPipe Transport { get; }

    /// <summary>Gets a human-readable description of the peer, used in error messages.</summary>
    public abstract string RemoteEndpoint { get; }

    /// <summary>
    /// Tears the connection down at once: pending reads complete with <paramref name="reason"/> and unsent bytes are dropped.
    /// Safe to call more than once and concurrently with <see cref="DisposeAsync"/>.
    /// </summary>
    /// <param name="reason">Why the connection is aborted, surfaced to readers; <see langword="null"/> for a plain close.</param>
    public abstract void Abort(Exception? reason = null);

    /// <summary>Flushes what was written, closes the stream and waits for the transport's loops to end. Idempotent.</summary>
    /// <returns>A task that completes when every resource of the connection is released.</returns>
    public abstract ValueTask DisposeAsync();
}
