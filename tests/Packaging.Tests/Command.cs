using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests;

namespace Rpc.Packaging.Tests;

/// <summary>Runs a program to its end within a deadline, as a user at a shell would, and gives back its output.</summary>
internal static class Command
{
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        using var process = Start(fileName, arguments, workingDirectory);
        var output = new StringBuilder();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            SpawnedProcess.Kill(process);
            await Task.WhenAll(stdout, stderr);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}:\n{output}");
        }

        await Task.WhenAll(stdout, stderr);
        return (process.ExitCode, output.ToString());
    }

    /// <summary>Runs a command that must succeed; a failure fails the test with everything it printed.</summary>
    public static async Task<string> RunCheckedAsync(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var (exitCode, output) = await RunAsync(fileName, arguments, workingDirectory, timeout);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', arguments)} exited with {exitCode}:\n{output}");
        return output;
    }

    /// <summary>
    /// Starts a process with redirected streams. The MSBuild and test-host variables of this test run are removed, so a
    /// `dotnet` command behaves as it does in a user's shell.
    /// </summary>
    public static Process Start(string fileName, IEnumerable<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in new List<string>(info.Environment.Keys))
        {
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) ||
                name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) ||
                name.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(name);
            }
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
    }

    private static async Task PumpAsync(TextReader reader, StringBuilder output)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
