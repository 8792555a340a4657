using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Packaging.Tests;

/// <summary>
/// What a new user does, from an empty folder: a console app, <c>dotnet add package Rpc.Runtime</c> from the local feed
/// (nuget.org for the rest), a contract in Program.cs, a build. Made once for the tests of a class; the NativeAOT
/// publish of the same app is made on first use.
/// </summary>
public sealed class NewUserApp : IAsyncLifetime
{
    private const string Program = """
        using Rpc;

        switch (args)
        {
            case ["serve", var path]:
                await using (var server = new RpcServer().AddService<IGreeter>(new Greeter()))
                {
                    await server.ListenAsync($"unix://{path}");
                    Console.WriteLine("listening");
                    // Serves until stdin closes, the way a supervisor (here the test) ends it.
                    await Console.In.ReadToEndAsync();
                    await server.StopAsync();
                }
                return 0;
            case ["call", var path]:
                await using (var connection = await RpcConnection.ConnectAsync($"unix://{path}"))
                {
                    var greeter = connection.CreateProxy<IGreeter>();
                    Console.WriteLine(await greeter.GreetAsync("new user", CancellationToken.None));
                }
                return 0;
            default:
                Console.Error.WriteLine("usage: Greeter serve|call <socket path>");
                return 2;
        }

        [RpcContract]
        public interface IGreeter { Task<string> GreetAsync(string name, CancellationToken ct); }

        public sealed class Greeter : IGreeter
        {
            public Task<string> GreetAsync(string name, CancellationToken ct) => Task.FromResult($"Hello, {name}!");
        }
        """;

    // Generous: a NativeAOT publish on a loaded two-core CI machine takes minutes.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(10);

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("rpc-newuser-");
    private Task<string>? _aotPublish;

    public string ProjectDirectory => Path.Combine(_root.FullName, "Greeter");

    /// <summary>The output of <c>dotnet build</c>.</summary>
    public string BuildOutput { get; private set; } = "";

    public string JitAssembly => Path.Combine(ProjectDirectory, "bin", "Release", "net10.0", "Greeter.dll");

    public string AotDirectory => Path.Combine(_root.FullName, "aot");

    public string AotExecutable => Path.Combine(AotDirectory, "Greeter");

    /// <summary>A socket path short enough for sun_path, unique to one test.</summary>
    public string NewSocketPath() => Path.Combine(_root.FullName, $"{Guid.NewGuid():N}"[..8] + ".sock");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_root.FullName, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{LocalFeed.Folder}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
            </configuration>
            """);
        await DotnetAsync(_root.FullName, "new", "console", "--name", "Greeter", "--output", ProjectDirectory, "--no-restore");
        await DotnetAsync(ProjectDirectory, "add", "package", "Rpc.Runtime", "--version", LocalFeed.Version);
        await File.WriteAllTextAsync(Path.Combine(ProjectDirectory, "Program.cs"), Program);
        BuildOutput = await DotnetAsync(ProjectDirectory, "build", "-c", "Release", "-tl:off", "-p:EmitCompilerGeneratedFiles=true");
    }

    /// <summary>Publishes the app with NativeAOT (once) and returns the publish output.</summary>
    public Task<string> PublishAotAsync() => _aotPublish ??= DotnetAsync(
        ProjectDirectory, "publish", "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-tl:off", "-o", AotDirectory);

    public Task DisposeAsync()
    {
        _root.Delete(recursive: true);
        return Task.CompletedTask;
    }

    private static Task<string> DotnetAsync(string workingDirectory, params string[] arguments) =>
        Command.RunCheckedAsync("dotnet", arguments, workingDirectory, CommandTimeout);
}
