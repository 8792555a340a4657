using System;
using System.Globalization;

namespace Rpc.Transports;

/// <summary>
/// A parsed endpoint string. The scheme selects the transport: <c>unix:///path/to.sock</c>, <c>tcp://host:port</c>.
/// </summary>
public sealed class RpcEndpoint
{
    private RpcEndpoint(string original, string scheme, string host, int port, string path)
    {
        Original = original;
        Scheme = scheme;
        Host = host;
        Port = port;
        Path = path;
    }

    /// <summary>Gets the endpoint string as given.</summary>
    public string Original { get; }

    /// <summary>Gets the scheme, lower case (<c>unix</c>, <c>tcp</c>, …).</summary>
    public string Scheme { get; }

    /// <summary>Gets the host part (<c>tcp</c>), or the name (<c>pipe://name</c>, <c>shm://name</c>); empty when absent.</summary>
    public string Host { get; }

    /// <summary>Gets the port, or -1 when absent.</summary>
    public int Port { get; }

    /// <summary>Gets the path part (<c>unix:///tmp/a.sock</c> → <c>/tmp/a.sock</c>); empty when absent.</summary>
    public string Path { get; }

    /// <summary>Parses an endpoint string.</summary>
    /// <param name="endpoint">For example <c>unix:///tmp/calc.sock</c> or <c>tcp://127.0.0.1:5000</c>.</param>
    /// <returns>The parsed endpoint.</returns>
    /// <exception cref="FormatException">The string is not <c>scheme://…</c>, or its port is not a number in 0–65535.</exception>
    public static RpcEndpoint Parse(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var separator = endpoint.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
        {
            throw new FormatException($"'{endpoint}' is not an endpoint: expected scheme://address, for example unix:///tmp/app.sock or tcp://127.0.0.1:5000.");
        }

        var scheme = endpoint[..separator].ToLowerInvariant();
        var rest = endpoint[(separator + 3)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? string.Empty : rest[slash..];

        var host = authority;
        var port = -1;
        var colon = authority.LastIndexOf(':');
        var closingBracket = authority.LastIndexOf(']');
        if (colon > closingBracket)
        {
            var portText = authority[(colon + 1)..];
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
            {
                throw new FormatException($"'{endpoint}' has an invalid port '{portText}': expected a number from 0 to 65535.");
            }

            host = authority[..colon];
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        return new RpcEndpoint(endpoint, scheme, Uri.UnescapeDataString(host), port, Uri.UnescapeDataString(path));
    }

    /// <inheritdoc />
    public override string ToString() => Original;
}
