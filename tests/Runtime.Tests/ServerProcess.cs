using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>
/// A test host server in its own process. Disposing closes its stdin (a graceful stop) and kills it if it has not
/// exited within a few seconds, so no test leaves a process behind.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, IReadOnlyList<string> endpoints)
    {
        _process = process;
        Endpoints = endpoints;
    }

    public IReadOnlyList<string> Endpoints { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public static async Task<ServerProcess> StartAsync(IEnumerable<string> endpoints, string protocol = "binary", IEnumerable<string>? arguments = null, CancellationToken cancellationToken = default)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "Rpc.TestHost.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add("--protocol");
        start.ArgumentList.Add(protocol);
        foreach (var argument in arguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        var count = 0;
        foreach (var endpoint in endpoints)
        {
            start.ArgumentList.Add("--endpoint");
            start.ArgumentList.Add(endpoint);
            count++;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("The test host did not start.");
        var bound = new List<string>();
        try
        {
            while (bound.Count < count)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"The test host exited before it was ready (exit code {(process.WaitForExit(5000) ? process.ExitCode : -1)}).");
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    bound.Add(line["READY ".Length..]);
                }
            }
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }

        return new ServerProcess(process, bound);
    }

    /// <summary>Kills the server with SIGKILL, as a crash would.</summary>
    public void Kill() => Kill(_process);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(graceful.Token);
                }
                catch (OperationCanceledException)
                {
                    Kill(_process);
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
