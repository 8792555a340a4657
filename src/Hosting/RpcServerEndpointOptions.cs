using System.Collections.Generic;

namespace Rpc.Hosting;

/// <summary>
/// Where a hosted server listens: bound from the <c>Endpoints</c> array of its configuration section (default
/// <c>Rpc:Server</c>), and added to by <see cref="RpcServerBuilder.ListenOn"/>.
/// </summary>
public sealed class RpcServerEndpointOptions
{
    /// <summary>Gets the endpoints, for example <c>unix:///run/calc.sock</c> or <c>tcp://0.0.0.0:5000</c>.</summary>
    public IList<string> Endpoints { get; } = [];
}
