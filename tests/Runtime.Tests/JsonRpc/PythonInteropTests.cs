using System;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.JsonRpc;

/// <summary>
/// A real JSON-RPC 2.0 peer in another language: tests/Interop/jsonrpc_client.py (Python 3, stdlib only) calls the test
/// host process (serving both protocols, as servers do by default) over a Unix socket with Content-Length framing.
/// </summary>
public sealed class PythonInteropTests : TestBase
{
    [Fact]
    public async Task A_python_peer_calls_positional_named_unknown_invalid_failing_cancelled_duplicate_and_notification()
    {
        var script = FindScript();
        var endpoint = $"unix://{Path.Combine(Path.GetTempPath(), $"rpc-py-{Guid.NewGuid():N}.sock")}";
        await using var server = await ServerProcess.StartAsync([endpoint], cancellationToken: TimeoutToken);

        var output = await RunPythonAsync(script, server.Endpoints[0]["unix://".Length..]);

        using var document = JsonDocument.Parse(output);
        var results = document.RootElement;
        Assert.Equal(42, results.GetProperty("positional").GetProperty("result").GetInt32());
        Assert.Equal(7, results.GetProperty("named").GetProperty("result").GetInt32());
        Assert.Equal(-32601, results.GetProperty("not_found").GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(-32602, results.GetProperty("invalid_params").GetProperty("error").GetProperty("code").GetInt32());
        var error = results.GetProperty("exception").GetProperty("error");
        Assert.Equal(-32000, error.GetProperty("code").GetInt32());
        Assert.Equal("boom", error.GetProperty("message").GetString());
        Assert.Equal("System.InvalidOperationException", error.GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(-32800, results.GetProperty("cancelled").GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(6, results.GetProperty("duplicate").GetProperty("id").GetInt32());
        Assert.Equal(-32600, results.GetProperty("duplicate").GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("hello from python", results.GetProperty("notified").GetProperty("result")[0].GetString());
        Assert.Equal("2.0", results.GetProperty("positional").GetProperty("jsonrpc").GetString());
    }

    private async Task<string> RunPythonAsync(string script, string socketPath)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(socketPath);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start.");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(TimeoutToken);
            var stderr = process.StandardError.ReadToEndAsync(TimeoutToken);
            await process.WaitForExitAsync(TimeoutToken);
            Assert.True(process.ExitCode == 0, $"python3 exited with {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "Interop", "jsonrpc_client.py");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("tests/Interop/jsonrpc_client.py was not found above the test output directory.");
    }
}
