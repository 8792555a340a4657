using System.Collections.Generic;

namespace Rpc.Hosting;

/// <summary>
/// Where a hosted server listens and what its endpoints speak: bound from the <c>Endpoints</c> and <c>Protocols</c>
/// arrays of its configuration section (default <c>Rpc:Server</c>); <see cref="RpcServerBuilder.ListenOn"/> adds endpoints.
/// </summary>
public sealed class RpcServerEndpointOptions
{
    /// <summary>Gets the endpoints, for example <c>unix:///run/calc.sock</c> or <c>tcp://0.0.0.0:5000</c>.</summary>
    public IList<string> Endpoints { get; } = [];

    /// <summary>
    /// Gets the names of the protocols to serve (<see cref="RpcProtocol.Name"/>: <c>Binary</c>, and <c>JsonRpc</c> once
    /// added with <see cref="RpcServerBuilder.AddProtocol"/>), or none for every protocol the server knows. They become
    /// <see cref="RpcServerOptions.Protocols"/>; an unknown name fails the host's start.
    /// </summary>
    public IList<string> Protocols { get; } = [];
}
