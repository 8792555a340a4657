using System;
using System.IO;

namespace Rpc.Tests.Processes;

/// <summary>
/// Finds tests/ChildHost's build output: next to the tests once Rpc.Runtime.Tests references the project, otherwise at
/// tests/ChildHost/bin/&lt;configuration&gt;/net10.0/Rpc.ChildHost.dll in the same repository (build tests/ChildHost first).
/// </summary>
internal static class ChildHostLocator
{
    public static string Path { get; } = Locate();

    private static string Locate()
    {
        var beside = System.IO.Path.Combine(AppContext.BaseDirectory, "Rpc.ChildHost.dll");
        if (File.Exists(beside))
        {
            return beside;
        }

        // AppContext.BaseDirectory is tests/Runtime.Tests/bin/<configuration>/<tfm>/.
        var tfmDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var configuration = tfmDirectory.Parent!.Name;
        for (var directory = tfmDirectory; directory is not null; directory = directory.Parent)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "tests", "ChildHost", "bin", configuration, tfmDirectory.Name, "Rpc.ChildHost.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"Rpc.ChildHost.dll not found beside the tests or under tests/ChildHost/bin/{configuration}/{tfmDirectory.Name}/: run 'dotnet build tests/ChildHost -c {configuration}' first.");
    }
}
