using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

// Compiled into the tests and, linked, into tests/WorkerHost: both sides generate the same contract from this one file.
namespace Rpc.Tests.WorkQueues;

/// <summary>The work-queue tests' contract: each job reports which worker ran it.</summary>
[RpcContract]
public interface IJobs
{
    /// <summary>A job safe to run twice: the hub re-runs it when its worker dies.</summary>
    [RpcIdempotent]
    Task<JobResult> RunIdempotentAsync(int id, int delayMs, CancellationToken cancellationToken = default);

    /// <summary>A job that must never run twice: a lost worker fails it.</summary>
    Task<JobResult> RunAsync(int id, int delayMs, CancellationToken cancellationToken = default);

    IAsyncEnumerable<int> CountAsync(int id, int count, int delayMs, CancellationToken cancellationToken = default);

    void Touch(int id);
}

/// <summary>Which worker ran which job.</summary>
public sealed record JobResult(int WorkerId, int Id);

/// <summary>
/// A worker that logs "start &lt;id&gt;" before and "done &lt;id&gt;" after each job, one write per line, so the log of a
/// worker killed by SIGKILL still holds every line it wrote. A hanging worker never finishes a job (it waits to be killed).
/// </summary>
public sealed class LoggingJobs : IJobs
{
    private readonly int _workerId;
    private readonly string? _logPath;
    private readonly bool _hang;
    private readonly Lock _gate = new();

    public LoggingJobs(int workerId, string? logPath, bool hang)
    {
        _workerId = workerId;
        _logPath = logPath;
        _hang = hang;
    }

    public Task<JobResult> RunIdempotentAsync(int id, int delayMs, CancellationToken cancellationToken) => RunCoreAsync(id, delayMs, cancellationToken);

    public Task<JobResult> RunAsync(int id, int delayMs, CancellationToken cancellationToken) => RunCoreAsync(id, delayMs, cancellationToken);

    public async IAsyncEnumerable<int> CountAsync(int id, int count, int delayMs, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Log($"start {id}");
        for (var i = 0; i < count; i++)
        {
            if (_hang && i == count / 2)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            await Task.Delay(delayMs, cancellationToken);
            yield return i;
        }

        Log($"done {id}");
    }

    public void Touch(int id) => Log($"touch {id}");

    /// <summary>Reads a worker's log: the ids of each kind of line.</summary>
    public static (List<int> Started, List<int> Done, List<int> Touched) ReadLog(string path)
    {
        var started = new List<int>();
        var done = new List<int>();
        var touched = new List<int>();
        if (!File.Exists(path))
        {
            return (started, done, touched);
        }

        foreach (var line in File.ReadAllLines(path))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[1], out var id))
            {
                continue;
            }

            (parts[0] switch { "start" => started, "done" => done, _ => touched }).Add(id);
        }

        return (started, done, touched);
    }

    private async Task<JobResult> RunCoreAsync(int id, int delayMs, CancellationToken cancellationToken)
    {
        Log($"start {id}");
        await Task.Delay(_hang ? Timeout.Infinite : delayMs, cancellationToken);
        Log($"done {id}");
        return new JobResult(_workerId, id);
    }

    private void Log(string line)
    {
        if (_logPath is null)
        {
            return;
        }

        lock (_gate)
        {
            File.AppendAllText(_logPath, line + "\n");
        }
    }
}
