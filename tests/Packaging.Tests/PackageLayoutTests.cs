using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.Metadata;
using System.Text;
using System.Threading.Tasks;
using System.Xml.Linq;

namespace Rpc.Packaging.Tests;

/// <summary>What each .nupkg holds: the files where the SDK looks for them, the metadata nuget.org shows, the right dependencies.</summary>
public sealed class PackageLayoutTests
{
    /// <summary>What a package may depend on besides other Rpc packages; anything else is a leak or a decision to make here.</summary>
    private static readonly Dictionary<string, string[]> AllowedExternalDependencies = new()
    {
        ["Rpc.Contracts"] = [],
        ["Rpc.Transports"] = [],
        ["Rpc.Runtime"] =
        [
            "MessagePack",
            // Logging and metrics (issue 11): the abstractions only, so an app without them pays nothing.
            "Microsoft.Extensions.Logging.Abstractions", "Microsoft.Extensions.Diagnostics.Abstractions",
        ],
        ["Rpc.JsonRpc"] = ["StreamJsonRpc"],
        ["Rpc.Hosting"] =
        [
            "Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.DependencyInjection.Abstractions",
            "Microsoft.Extensions.Options", "Microsoft.Extensions.Configuration.Abstractions",
            "Microsoft.Extensions.Options.ConfigurationExtensions", "Microsoft.Extensions.Configuration.Binder",
            "Microsoft.Extensions.Logging.Abstractions",
            "Microsoft.Extensions.Diagnostics.HealthChecks", "Microsoft.Extensions.Diagnostics.HealthChecks.Abstractions",
        ],
    };

    /// <summary>The kind of a portable PDB's SourceLink record (the Portable PDB specification).</summary>
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");

    [Fact]
    public void The_feed_holds_exactly_the_shipping_packages_each_with_its_symbols()
    {
        var ids = LocalFeed.PackageFiles().Select(path => Nuspec(path).Id).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(LocalFeed.ExpectedPackages.Order(StringComparer.Ordinal), ids);
        foreach (var id in ids)
        {
            var symbols = Path.ChangeExtension(LocalFeed.PackagePath(id), ".snupkg");
            Assert.True(File.Exists(symbols), $"{id}: no symbol package {symbols}");
            using var zip = ZipFile.OpenRead(symbols);
            Assert.Contains(zip.Entries, entry => entry.FullName == $"lib/net10.0/{id}.pdb");
        }
    }

    [Fact]
    public void Every_package_holds_its_assembly_and_docs_its_readme_and_nothing_else()
    {
        foreach (var id in LocalFeed.ExpectedPackages)
        {
            var files = PackageFiles(id);
            var expected = new List<string> { $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml", "PACKAGE.md" };
            if (id == "Rpc.Runtime")
            {
                // The one place the SDK loads a generator from for Roslyn 4.14 and later; no other analyzer rides along.
                expected.Add("analyzers/dotnet/roslyn4.14/cs/Rpc.Generator.dll");
            }

            Assert.Equal(expected.Order(StringComparer.Ordinal), files.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void Every_package_has_the_metadata_nuget_org_shows()
    {
        foreach (var id in LocalFeed.ExpectedPackages)
        {
            var nuspec = Nuspec(LocalFeed.PackagePath(id));

            Assert.Equal(LocalFeed.Version, nuspec.Version);
            Assert.Equal("PACKAGE.md", nuspec.Element("readme"));
            Assert.Equal("MIT", nuspec.Element("license"));
            Assert.Equal("expression", nuspec.Metadata.Element(nuspec.Ns + "license")?.Attribute("type")?.Value);
            Assert.Equal("Rpc contributors", nuspec.Element("authors"));
            var description = nuspec.Element("description");
            Assert.False(string.IsNullOrWhiteSpace(description) || description == "Package Description", $"{id}: no description");
            var repository = nuspec.Metadata.Element(nuspec.Ns + "repository");
            Assert.NotNull(repository);
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.StartsWith("https://", repository.Attribute("url")?.Value ?? "", StringComparison.Ordinal);

            using var zip = ZipFile.OpenRead(LocalFeed.PackagePath(id));
            using var readme = new StreamReader(zip.GetEntry("PACKAGE.md")!.Open());
            var page = readme.ReadToEnd();
            Assert.StartsWith($"# {id}", page, StringComparison.Ordinal);
            Assert.Contains("dotnet add package", page, StringComparison.Ordinal);
            Assert.Contains("https://github.com/", page, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_dependency_is_another_rpc_package_of_this_build_or_an_allowed_one()
    {
        foreach (var id in LocalFeed.ExpectedPackages)
        {
            Assert.True(AllowedExternalDependencies.TryGetValue(id, out var allowed), $"{id}: add its allowed dependencies to this test");
            foreach (var (dependency, version) in Nuspec(LocalFeed.PackagePath(id)).Dependencies)
            {
                if (LocalFeed.ExpectedPackages.Contains(dependency))
                {
                    Assert.Equal(LocalFeed.Version, version);
                }
                else
                {
                    Assert.True(allowed.Contains(dependency), $"{id} depends on {dependency}, which is not in its allowed list");
                }
            }
        }

        var runtime = Nuspec(LocalFeed.PackagePath("Rpc.Runtime")).Dependencies.Select(d => d.Id).ToArray();
        Assert.Contains("Rpc.Contracts", runtime);
        Assert.Contains("Rpc.Transports", runtime);
        Assert.Contains("MessagePack", runtime);
    }

    [Fact]
    public void Only_Rpc_JsonRpc_depends_on_StreamJsonRpc()
    {
        Assert.DoesNotContain("StreamJsonRpc", Nuspec(LocalFeed.PackagePath("Rpc.Runtime")).Dependencies.Select(d => d.Id));
        Assert.Contains("StreamJsonRpc", Nuspec(LocalFeed.PackagePath("Rpc.JsonRpc")).Dependencies.Select(d => d.Id));
    }

    [Fact]
    public async Task Every_package_names_the_commit_it_was_built_from_and_its_portable_pdb_maps_the_sources_to_that_commit()
    {
        var head = (await Command.RunCheckedAsync("git", ["rev-parse", "HEAD"], RepositoryRoot(), TimeSpan.FromSeconds(30))).Trim();
        foreach (var id in LocalFeed.ExpectedPackages)
        {
            var nuspec = Nuspec(LocalFeed.PackagePath(id));
            var repository = nuspec.Metadata.Element(nuspec.Ns + "repository")!;
            Assert.Equal(head, repository.Attribute("commit")?.Value);

            // Debuggers fetch each source file of the PDB from the URL its SourceLink map gives, at that commit.
            var ownerAndName = new Uri(repository.Attribute("url")!.Value).AbsolutePath.Trim('/');
            Assert.Contains($"\"https://raw.githubusercontent.com/{ownerAndName}/{head}/*\"", SourceLinkOf(id), StringComparison.Ordinal);
        }
    }

    /// <summary>The SourceLink JSON of the package's PDB, which must be a portable PDB (a Windows PDB fails to open here).</summary>
    private static string SourceLinkOf(string id)
    {
        using var symbols = ZipFile.OpenRead(Path.ChangeExtension(LocalFeed.PackagePath(id), ".snupkg"));
        var pdb = new MemoryStream();
        using (var entry = symbols.GetEntry($"lib/net10.0/{id}.pdb")!.Open())
        {
            entry.CopyTo(pdb);
        }

        pdb.Position = 0;
        using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
        var reader = provider.GetMetadataReader();
        var sourceLinks = reader.CustomDebugInformation
            .Select(reader.GetCustomDebugInformation)
            .Where(information => reader.GetGuid(information.Kind) == SourceLinkKind)
            .Select(information => Encoding.UTF8.GetString(reader.GetBlobBytes(information.Value)))
            .ToList();
        return Assert.Single(sourceLinks);
    }

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Rpc.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new DirectoryNotFoundException("Rpc.sln was not found above the test output directory.");
    }

    /// <summary>The package's payload: its files minus what every .nupkg carries (OPC parts, the nuspec).</summary>
    private static string[] PackageFiles(string id)
    {
        using var zip = ZipFile.OpenRead(LocalFeed.PackagePath(id));
        return zip.Entries.Select(entry => entry.FullName)
            .Where(name => !name.StartsWith("_rels/", StringComparison.Ordinal)
                           && !name.StartsWith("package/", StringComparison.Ordinal)
                           && name != "[Content_Types].xml"
                           && name != $"{id}.nuspec")
            .ToArray();
    }

    private static NuspecDocument Nuspec(string packagePath)
    {
        using var zip = ZipFile.OpenRead(packagePath);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        return new NuspecDocument(XDocument.Load(stream));
    }

    private sealed class NuspecDocument(XDocument document)
    {
        public XNamespace Ns { get; } = document.Root!.Name.Namespace;

        public XElement Metadata => document.Root!.Element(Ns + "metadata")!;

        public string Id => Element("id")!;

        public string Version => Element("version")!;

        public IEnumerable<(string Id, string Version)> Dependencies =>
            Metadata.Descendants(Ns + "dependency").Select(d => (d.Attribute("id")!.Value, d.Attribute("version")!.Value));

        public string? Element(string name) => Metadata.Element(Ns + name)?.Value;
    }
}
