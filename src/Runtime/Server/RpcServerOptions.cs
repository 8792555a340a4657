using System;

namespace Rpc;

/// <summary>Settings of an <see cref="RpcServer"/>.</summary>
public sealed class RpcServerOptions
{
    /// <summary>
    /// Gets or sets the settings of each accepted connection (frame limit, stack traces, dispatcher, transport). Its
    /// <see cref="RpcConnectionOptions.Protocol"/> is ignored: each client's first byte tells which protocol it speaks
    /// (see <see cref="Protocols"/>).
    /// </summary>
    public RpcConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Gets or sets the protocols the server's endpoints serve, unless an endpoint names its own
    /// (<see cref="RpcServer.ListenAsync(string, RpcProtocols, System.Threading.CancellationToken)"/>). Each client is
    /// served in the protocol its first byte names; a client of a protocol not served is closed. Default:
    /// <see cref="RpcProtocols.All"/>.
    /// </summary>
    public RpcProtocols Protocols { get; set; } = RpcProtocols.All;

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

    internal static void ValidateProtocols(RpcProtocols protocols, string name)
    {
        if ((protocols & RpcProtocols.All) == 0 || (protocols & ~RpcProtocols.All) != 0)
        {
            throw new ArgumentOutOfRangeException(name, protocols, "Serve RpcProtocols.Binary, RpcProtocols.JsonRpc or both.");
        }
    }
}
