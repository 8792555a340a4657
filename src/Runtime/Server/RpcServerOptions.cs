using System;
using System.Collections.Generic;
using System.Linq;

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
    /// (<see cref="RpcServer.ListenAsync(string, IEnumerable{RpcProtocol}, System.Threading.CancellationToken)"/>). Each
    /// client is served in the protocol its first byte names; a client of no protocol served is closed. Default:
    /// <see cref="RpcProtocol.Binary"/> only; add <c>RpcProtocol.JsonRpc</c> (package Rpc.JsonRpc) to also accept
    /// JSON-RPC clients on the same endpoints.
    /// </summary>
    public IList<RpcProtocol> Protocols { get; set; } = [RpcProtocol.Binary];

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

    /// <summary>Copies <paramref name="protocols"/>, checking that it names at least one protocol, each once.</summary>
    internal static RpcProtocol[] ValidateProtocols(IEnumerable<RpcProtocol> protocols, string name)
    {
        ArgumentNullException.ThrowIfNull(protocols, name);
        RpcProtocol[] served = [.. protocols];
        if (served.Length == 0 || Array.IndexOf(served, null) >= 0 || served.Distinct().Count() != served.Length)
        {
            throw new ArgumentException("Serve at least one protocol, each once (for example RpcProtocol.Binary).", name);
        }

        return served;
    }
}
