using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace Rpc.Tests.Conformance;

/// <summary>
/// The files one endpoint made by <see cref="TestEndpoints.Create"/> leaves in the file system: a unix socket, a named
/// pipe's socket, a shared-memory rendezvous socket and segments. Each carries the endpoint's fresh GUID in its name.
/// </summary>
public static partial class EndpointFiles
{
    /// <summary>Returns the files of <paramref name="endpoint"/>; none for endpoints without files (tcp, tls).</summary>
    public static IReadOnlyList<string> Of(string endpoint)
    {
        if (Token().Match(endpoint) is not { Success: true } token)
        {
            return [];
        }

        var pattern = "*" + token.Value + "*";
        return [.. Directory.GetFiles(Path.GetTempPath(), pattern).Concat(Directory.Exists("/dev/shm") ? Directory.GetFiles("/dev/shm", pattern) : [])];
    }

    /// <summary>
    /// Deletes, when disposed, what a killed server could not (a clean shutdown removes its own files). It must be
    /// disposed once no live server uses the endpoint any more.
    /// </summary>
    public static System.IDisposable DeleteLeftOversOnDispose(string endpoint) => new LeftOvers(endpoint);

    private sealed class LeftOvers(string endpoint) : System.IDisposable
    {
        public void Dispose()
        {
            foreach (var file in Of(endpoint))
            {
                File.Delete(file);
            }
        }
    }

    [GeneratedRegex("[0-9a-f]{32}")]
    private static partial Regex Token();
}
