using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace Rpc.Tests.Samples;

/// <summary>
/// The built sample executables given an endpoint they cannot use: one line on stderr naming the program and the cause,
/// exit code 2 for a bad command line and 1 for a failure while running, never an unhandled-exception dump.
/// </summary>
public sealed class SampleCommandLineTests : TestBase
{
    [Theory]
    [InlineData("Calculator.Server", "--endpoint nonsense://x", 2, "No transport handles 'nonsense://'")]
    [InlineData("Calculator.Server", "--endpoint unix://", 2, "is not a Unix socket endpoint")]
    [InlineData("Calculator.Server", "--endpoint shm://bad/name", 2, "is not a shared-memory endpoint")]
    [InlineData("Calculator.Server", "--endpoint unix://{file}", 1, "exists and is not a socket")]
    [InlineData("Calculator.Server", "--endpoint unix://{live}", 1, "Another server is listening")]
    [InlineData("Calculator.Client", "--endpoint unix://{absent}", 1, "is the server running?")]
    [InlineData("Calculator.Client", "--endpoint tcp://127.0.0.1", 2, "is not a TCP endpoint")]
    [InlineData("Calculator.Client", "--server {absent}", 1, "There is no sample server at")]
    [InlineData("Ticker", "subscribe nonsense://x ACME", 2, "No transport handles 'nonsense://'")]
    [InlineData("Ticker", "subscribe unix://{absent} ACME", 1, "is the server running?")]
    [InlineData("WorkQueue", "worker unix://", 2, "is not a Unix socket endpoint")]
    [InlineData("WorkQueue", "worker unix://{absent}", 1, "is the server running?")]
    public async Task A_sample_that_cannot_use_its_endpoint_prints_one_line_and_exits_non_zero(string program, string arguments, int exitCode, string expected)
    {
        var directory = Directory.CreateTempSubdirectory("rpc-samples-");
        try
        {
            var file = Path.Combine(directory.FullName, "regular-file");
            await File.WriteAllTextAsync(file, "not a socket", TimeoutToken);
            var live = Path.Combine(directory.FullName, "live.sock");
            await using var server = new RpcServer().AddService<ITestService>(new TestService());
            if (arguments.Contains("{live}", StringComparison.Ordinal))
            {
                await server.ListenAsync($"unix://{live}", TimeoutToken);
            }

            var argumentList = arguments
                .Replace("{file}", file, StringComparison.Ordinal)
                .Replace("{live}", live, StringComparison.Ordinal)
                .Replace("{absent}", Path.Combine(directory.FullName, "absent.sock"), StringComparison.Ordinal)
                .Split(' ');

            var (code, stderr) = await RunAsync(program, argumentList);

            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{stderr}");
            Assert.StartsWith($"{program}: ", lines[0], StringComparison.Ordinal);
            Assert.Contains(expected, lines[0], StringComparison.Ordinal);
            Assert.Equal(exitCode, code);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private async Task<(int ExitCode, string Stderr)> RunAsync(string program, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(SamplePath(program));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(TimeoutToken);
            var stderr = process.StandardError.ReadToEndAsync(TimeoutToken);
            await process.WaitForExitAsync(TimeoutToken);
            await stdout;
            return (process.ExitCode, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
    }

    /// <summary>Finds the sample's build output (this project builds every sample, in the same configuration).</summary>
    private static string SamplePath(string program)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Rpc.sln")))
        {
            root = root.Parent;
        }

        var path = Path.Combine(root?.FullName ?? throw new DirectoryNotFoundException("Rpc.sln was not found above the test output directory."),
            "samples", program, "bin", configuration, "net10.0", program + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"The sample {program} is not built for {configuration}.", path);
    }
}
