using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.WorkQueues;

/// <summary>
/// A tests/WorkerHost process attached to a hub. Disposing closes its stdin and kills it if it lingers; <see cref="Kill"/>
/// sends SIGKILL, as a crash would. No test leaves one behind.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static string? _hostPath;
    private readonly Process _process;

    private WorkerProcess(Process process, string logPath)
    {
        _process = process;
        LogPath = logPath;
    }

    public int ProcessId => _process.Id;

    public string LogPath { get; }

    public bool Killed { get; private set; }

    public static async Task<WorkerProcess> StartAsync(string hubWorkerEndpoint, string logDirectory, bool hang, CancellationToken cancellationToken)
    {
        var host = await EnsureHostAsync();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add("--endpoint");
        start.ArgumentList.Add(hubWorkerEndpoint);
        if (hang)
        {
            start.ArgumentList.Add("--hang");
        }

        // The log is named after a fresh id, passed before the pid is known; the worker reports its pid in READY.
        var log = Path.Combine(logDirectory, $"worker-{Guid.NewGuid():N}.log");
        start.ArgumentList.Add("--log");
        start.ArgumentList.Add(log);
        var process = Process.Start(start) ?? throw new InvalidOperationException("The worker host did not start.");
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancellationToken)
                    ?? throw new InvalidOperationException("The worker host exited before it was ready.");
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    return new WorkerProcess(process, log);
                }
            }
        }
        catch
        {
            KillProcess(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: the worker gets no chance to answer or close its connection cleanly.</summary>
    public void Kill()
    {
        Killed = true;
        KillProcess(_process);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(graceful.Token);
                }
                catch (OperationCanceledException)
                {
                    KillProcess(_process);
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static void KillProcess(Process process)
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

    /// <summary>
    /// Finds Rpc.WorkerHost.dll beside the tests (when the test project references tests/WorkerHost), else in that
    /// project's own output for the same configuration, building it once if it is not there.
    /// </summary>
    /// <remarks>Bounded by its own 3 minutes, not by a test's timeout: a first build may take longer than a test may.</remarks>
    public static async Task<string> EnsureHostAsync()
    {
        if (!await BuildGate.WaitAsync(TimeSpan.FromMinutes(4)))
        {
            throw new TimeoutException("Another test has been building the worker host for 4 minutes.");
        }

        try
        {
            if (_hostPath is not null)
            {
                return _hostPath;
            }

            var beside = Path.Combine(AppContext.BaseDirectory, "Rpc.WorkerHost.dll");
            if (File.Exists(beside))
            {
                return _hostPath = beside;
            }

            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Rpc.sln")))
            {
                root = root.Parent;
            }

            if (root is null)
            {
                throw new InvalidOperationException("Rpc.WorkerHost.dll is not beside the tests and the repository root was not found.");
            }

            var project = Path.Combine(root.FullName, "tests", "WorkerHost");
            var built = Path.Combine(project, "bin", configuration, "net10.0", "Rpc.WorkerHost.dll");
            if (!File.Exists(built))
            {
                var build = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
                build.ArgumentList.Add("build");
                build.ArgumentList.Add(project);
                build.ArgumentList.Add("-c");
                build.ArgumentList.Add(configuration);
                using var process = Process.Start(build) ?? throw new InvalidOperationException("dotnet build did not start.");
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
                try
                {
                    await process.StandardOutput.ReadToEndAsync(timeout.Token);
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    KillProcess(process);
                    throw;
                }

                if (process.ExitCode != 0 || !File.Exists(built))
                {
                    throw new InvalidOperationException($"Building {project} failed (exit code {process.ExitCode}).");
                }
            }

            return _hostPath = built;
        }
        finally
        {
            BuildGate.Release();
        }
    }
}
