using System;
using System.IO;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// <c>shm://name</c>: the name rules and the files a name owns under <c>/dev/shm</c>.
/// </summary>
/// <remarks>
/// A listener owns <c>rpc-&lt;name&gt;.sock</c> (the rendezvous socket) and, briefly, one <c>rpc-&lt;name&gt;@&lt;pid&gt;-&lt;id&gt;</c>
/// per connection being set up. Names may contain '.' and '-' but never '@', so the segments of <c>a</c> can never be
/// confused with the files of <c>a-1</c> or <c>a.b</c>.
/// </remarks>
internal static class SharedMemoryName
{
    internal const int MaxNameLength = 64;

    /// <summary>Gets the directory of every file this transport creates: tmpfs, so the mapped pages never touch a disk.</summary>
    internal static string Directory { get; } = "/dev/shm";

    /// <summary>Checks a <c>shm://name</c> endpoint and returns the name.</summary>
    /// <exception cref="ArgumentException">The endpoint is not <c>shm://name</c> with a name of 1–64 characters from <c>[A-Za-z0-9._-]</c>.</exception>
    public static string Parse(RpcEndpoint endpoint)
    {
        var name = endpoint.Host;
        if (endpoint.Port >= 0 || endpoint.Path.Length != 0 || !IsValid(name))
        {
            throw new ArgumentException(
                $"'{endpoint.Original}' is not a shared-memory endpoint: expected shm://name, where name is 1 to {MaxNameLength} characters from A-Z, a-z, 0-9, '.', '_' and '-'.",
                nameof(endpoint));
        }

        return name;
    }

    public static string RendezvousPath(string name) => Path.Combine(Directory, "rpc-" + name + ".sock");

    /// <summary>The file-name prefix (no directory) of the connection segments of <paramref name="name"/>.</summary>
    public static string SegmentPrefix(string name) => "rpc-" + name + "@";

    internal static bool IsValid(string name)
    {
        if (name.Length is 0 or > MaxNameLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
