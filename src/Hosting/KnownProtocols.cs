using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Hosting;

/// <summary>
/// The protocols a hosted server can serve, by name: <see cref="RpcProtocol.Binary"/> and those added with
/// <see cref="RpcServerBuilder.AddProtocol"/>. Rpc.Hosting references no protocol package, so a protocol is known
/// only when code hands it over: no assembly scanning, and trimming keeps exactly what the app references.
/// </summary>
internal sealed class KnownProtocols
{
    private readonly List<RpcProtocol> _protocols = [RpcProtocol.Binary];

    /// <summary>Gets the container's instance, adding it on first use.</summary>
    public static KnownProtocols In(IServiceCollection services)
    {
        if (services.FirstOrDefault(d => d.ServiceType == typeof(KnownProtocols))?.ImplementationInstance is KnownProtocols known)
        {
            return known;
        }

        known = new KnownProtocols();
        services.AddSingleton(known);
        return known;
    }

    public void Add(RpcProtocol protocol)
    {
        if (!_protocols.Contains(protocol))
        {
            _protocols.Add(protocol);
        }
    }

    /// <summary>
    /// Gets the protocols <paramref name="names"/> (a configuration's <c>Protocols</c>) choose, or every known one when
    /// it names none.
    /// </summary>
    /// <exception cref="InvalidOperationException">A name is no known protocol's.</exception>
    public List<RpcProtocol> Resolve(IEnumerable<string> names, string configurationSection)
    {
        List<RpcProtocol> chosen = [];
        foreach (var name in names)
        {
            chosen.Add(_protocols.Find(protocol => string.Equals(protocol.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new InvalidOperationException(
                    $"{configurationSection}:Protocols names '{name}', which is not a protocol this server knows. Known: {string.Join(", ", _protocols)}. " +
                    "A protocol of another package is known once added in code, for example AddRpcServer().AddProtocol(RpcProtocol.JsonRpc) with Rpc.JsonRpc."));
        }

        return chosen.Count > 0 ? chosen : [.. _protocols];
    }
}
