using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.WorkQueues;

/// <summary>
/// A tests/WorkerHost process attached to a hub: connected to its worker endpoint, or started by the hub's process as an
/// <see cref="RpcChildProcess"/>. Disposing closes its stdin (a child: its connection) and kills it if it lingers;
/// <see cref="Kill"/> sends SIGKILL, as a crash would. No test leaves one behind.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static string? _hostPath;
    private readonly Process _process;
    private readonly RpcChildProcess? _child;

    private WorkerProcess(Process process, string logPath, RpcChildProcess? child = null)
    {
        _process = process;
        LogPath = logPath;
        _child = child;
    }

    public int ProcessId => _process.Id;

    public string LogPath { get; }

    public bool Killed { get; private set; }

    /// <param name="hubWorkerEndpoint">The hub's worker endpoint.</param>
    /// <param name="logDirectory">Where the worker's log goes.</param>
    /// <param name="hang">Whether the worker's jobs never finish.</param>
    /// <param name="cancellationToken">Cancels the start (the process is killed).</param>
    /// <param name="arguments">More arguments, for example <see cref="Conformance.TestEndpoints.ClientHostArguments"/>.</param>
    public static async Task<WorkerProcess> StartAsync(string hubWorkerEndpoint, string logDirectory, bool hang, CancellationToken cancellationToken, IEnumerable<string>? arguments = null)
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
        var log = NewLogPath(logDirectory);
        foreach (var argument in WorkerArguments(log, hang).Concat(arguments ?? []))
        {
            start.ArgumentList.Add(argument);
        }

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
            SpawnedProcess.Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a worker as a child process of this one (<see cref="RpcChildProcess"/>, over anonymous pipes) and attaches
    /// its connection to <paramref name="hub"/>.
    /// </summary>
    public static async Task<WorkerProcess> StartChildAsync(WorkQueueHub<IJobs> hub, string logDirectory, bool hang, CancellationToken cancellationToken)
    {
        var options = new RpcChildProcessOptions { FileName = "dotnet", Arguments = { await EnsureHostAsync(), "--child" } };
        var log = NewLogPath(logDirectory);
        foreach (var argument in WorkerArguments(log, hang))
        {
            options.Arguments.Add(argument);
        }

        var child = await RpcChildProcess.StartAsync(options, cancellationToken: cancellationToken);
        try
        {
            hub.AddWorker(child.Connection);
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }

        return new WorkerProcess(child.Process, log, child);
    }

    /// <summary>
    /// Runs tests/WorkerHost as a producer process: it connects to <paramref name="hubProducerEndpoint"/>, runs jobs
    /// 0..<paramref name="count"/>-1 (<see cref="IJobs.RunAsync"/>) through the hub and reports each result.
    /// </summary>
    /// <returns>The producer's results, in id order.</returns>
    public static async Task<IReadOnlyList<JobResult>> RunProducerAsync(string hubProducerEndpoint, int count, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(await EnsureHostAsync());
        start.ArgumentList.Add("--produce");
        start.ArgumentList.Add(hubProducerEndpoint);
        start.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("The producer did not start.");
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"The producer exited with code {process.ExitCode}; its output: {output}");
            }

            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .Where(parts => parts is ["RESULT", _, _])
                .Select(parts => new JobResult(int.Parse(parts[2], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture)))
                .ToList();
        }
        finally
        {
            SpawnedProcess.Kill(process);
        }
    }

    /// <summary>SIGKILL: the worker gets no chance to answer or close its connection cleanly.</summary>
    public void Kill()
    {
        Killed = true;
        if (_child is not null)
        {
            _child.Kill();
        }
        else
        {
            SpawnedProcess.Kill(_process);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_child is not null)
        {
            // Closes the connection: the child's ServeParentAsync returns; a child that lingers is killed.
            await _child.DisposeAsync();
            return;
        }

        await SpawnedProcess.StopAsync(_process, TimeSpan.FromSeconds(5));
    }

    /// <summary>The log is named after a fresh id, passed before the pid is known; results and READY carry the pid.</summary>
    private static string NewLogPath(string logDirectory) => Path.Combine(logDirectory, $"worker-{Guid.NewGuid():N}.log");

    private static IEnumerable<string> WorkerArguments(string log, bool hang) => hang ? ["--log", log, "--hang"] : ["--log", log];

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
                    SpawnedProcess.Kill(process);
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
