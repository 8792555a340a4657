using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Rpc.Packaging.Tests;

/// <summary>The packages scripts/test.sh built for this run: a folder of .nupkg files, all of one version.</summary>
internal static class LocalFeed
{
    /// <summary>The packages the repository ships. Extend this line when a shipping library is added.</summary>
    public static readonly string[] ExpectedPackages = ["Rpc.Contracts", "Rpc.Transports", "Rpc.Runtime", "Rpc.JsonRpc", "Rpc.Hosting"];

    /// <summary>Set by scripts/test.sh, which packs before it tests.</summary>
    public const string FolderVariable = "RPC_PACKAGE_FEED";

    /// <summary>A version no earlier run used, so no copy in ~/.nuget/packages can stand in for the new build.</summary>
    public const string VersionVariable = "RPC_PACKAGE_VERSION";

    public static string Folder => Required(FolderVariable);

    public static string Version => Required(VersionVariable);

    public static string PackagePath(string id) => Path.Combine(Folder, $"{id}.{Version}.nupkg");

    public static IEnumerable<string> PackageFiles() => Directory.EnumerateFiles(Folder, $"*.{Version}.nupkg");

    private static string Required(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{variable} is not set: these tests need the packages of this tree. Run ./scripts/test.sh, which packs " +
                "the shipping libraries into artifacts/packages and sets it.");
}
