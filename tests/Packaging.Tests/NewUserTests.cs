using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests;

namespace Rpc.Packaging.Tests;

/// <summary>A brand-new app built from the packages alone serves and calls a contract across two processes.</summary>
public sealed partial class NewUserTests(NewUserApp app) : IClassFixture<NewUserApp>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_packaged_generator_writes_the_proxy_and_a_jit_server_and_client_complete_a_call()
    {
        var generated = Path.Combine(app.ProjectDirectory, "obj", "Release", "net10.0", "generated");
        Assert.True(
            Directory.Exists(generated) &&
            Directory.EnumerateFiles(generated, "*.cs", SearchOption.AllDirectories)
                .Any(file => file.Contains("Rpc.Generator", StringComparison.Ordinal) && File.ReadAllText(file).Contains("GreeterRpc", StringComparison.Ordinal)),
            $"the generator from the Rpc.Runtime package wrote no GreeterRpc under {generated}:\n{app.BuildOutput}");

        await AssertCallAsync("dotnet", [app.JitAssembly]);
    }

    [Fact]
    public async Task The_nativeaot_publish_has_no_warnings_and_a_native_server_and_client_complete_a_call()
    {
        var output = await app.PublishAotAsync();

        var warnings = output.Split('\n').Where(line => WarningLine().IsMatch(line)).Distinct().ToArray();
        Assert.True(warnings.Length == 0, $"the NativeAOT publish warned:\n{string.Join('\n', warnings)}");
        Assert.True(File.Exists(app.AotExecutable), $"no native executable at {app.AotExecutable}:\n{output}");
        await AssertCallAsync(app.AotExecutable, []);
    }

    [Fact]
    public async Task The_nativeaot_app_has_no_JSON_RPC_in_its_restore_graph_or_binary()
    {
        await app.PublishAotAsync();

        var assets = await File.ReadAllTextAsync(Path.Combine(app.ProjectDirectory, "obj", "project.assets.json"));
        Assert.DoesNotContain("StreamJsonRpc", assets, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Rpc.JsonRpc", assets, StringComparison.OrdinalIgnoreCase);
        foreach (var file in Directory.EnumerateFiles(app.AotDirectory))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.False(bytes.AsSpan().IndexOf("StreamJsonRpc"u8) >= 0, $"{file} holds StreamJsonRpc code");
        }
    }

    /// <summary>Starts "serve", waits for it to listen, runs "call" to its end, and stops the server in every case.</summary>
    private async Task AssertCallAsync(string fileName, string[] prefix)
    {
        var socket = app.NewSocketPath();
        var server = Command.Start(fileName, [.. prefix, "serve", socket], app.ProjectDirectory);
        try
        {
            var serverOutput = new StringBuilder();
            var listening = false;
            using (var deadline = new CancellationTokenSource(Timeout))
            {
                while (!listening && await server.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
                {
                    listening = line == "listening";
                    serverOutput.AppendLine(line);
                }
            }

            if (!listening)
            {
                // Its output ended, so it is exiting: its error output ends too.
                Assert.Fail($"the server stopped before listening:\n{serverOutput}{await server.StandardError.ReadToEndAsync()}");
            }

            var (exitCode, output) = await Command.RunAsync(fileName, [.. prefix, "call", socket], app.ProjectDirectory, Timeout);

            Assert.True(exitCode == 0, $"the client exited with {exitCode}:\n{output}");
            Assert.Equal("Hello, new user!", output.Trim());
        }
        finally
        {
            await SpawnedProcess.StopAsync(server, TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>A compiler, trimming or AOT warning as MSBuild prints it ("…: warning IL2026: …").</summary>
    [GeneratedRegex(@"warning [A-Z]+\d+")]
    private static partial Regex WarningLine();
}
