using System;

namespace Rpc;

/// <summary>Settings of an <see cref="RpcServer"/>.</summary>
public sealed class RpcServerOptions
{
    /// <summary>Gets or sets the settings of each accepted connection (protocol, frame limit, stack traces, transport).</summary>
    public RpcConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Gets or sets how long <see cref="RpcServer.StopAsync"/> lets running calls finish before it fires their
    /// cancellation tokens. Default: 5 s.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long, after firing the tokens, <see cref="RpcServer.StopAsync"/> waits for calls to end before it
    /// closes the connections anyway (their callers then see <see cref="ConnectionLostException"/>). Default: 2 s.
    /// </summary>
    public TimeSpan CancellationGracePeriod { get; set; } = TimeSpan.FromSeconds(2);
}
