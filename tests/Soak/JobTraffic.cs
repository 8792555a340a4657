using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.WorkQueues;

namespace Rpc.Soak;

/// <summary>
/// Runs batches of jobs through the hub to worker processes (one per transport) and, between batches, replaces one
/// worker with a new process: every job must be answered by a worker that ran it, and at the end the workers' logs
/// must show every job started and finished exactly once.
/// </summary>
internal sealed class JobTraffic(WorkQueueHub<IJobs> hub, WorkQueueProducer<IJobs> producer, string workerHost, string logDirectory, Ledger ledger)
    : IAsyncDisposable
{
    private const int JobsPerBatch = 40;
    private const int BatchesBetweenReplacements = 5;

    private readonly List<(string Endpoint, HostProcess Process)> _workers = [];
    private readonly List<string> _logs = [];
    private int _jobs;

    public int WorkerProcessesStarted => _logs.Count;

    public async Task StartWorkersAsync(IEnumerable<string> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            _workers.Add((endpoint, await StartWorkerAsync(endpoint)));
        }
    }

    public async Task RunAsync(CancellationToken stop)
    {
        for (var batch = 1; !stop.IsCancellationRequested; batch++)
        {
            var first = _jobs;
            _jobs += JobsPerBatch;
            var calls = Enumerable.Range(first, JobsPerBatch).Select(id => (Id: id, Call: producer.Proxy.RunAsync(id, 1))).ToList();
            var workerIds = _workers.Select(w => w.Process.ProcessId).ToHashSet();
            foreach (var (id, call) in calls)
            {
                await ledger.ExpectAsync("jobs answered", async () =>
                {
                    var result = await call;
                    if (result.Id != id || !workerIds.Contains(result.WorkerId))
                    {
                        throw new InvalidOperationException($"job {id} answered as job {result.Id} by worker {result.WorkerId}");
                    }
                });
            }

            await ledger.ExpectAsync("producer joins", () => producer.JoinAsync());
            if (batch % BatchesBetweenReplacements == 0)
            {
                await ledger.ExpectAsync("workers replaced", () => ReplaceWorkerAsync(batch / BatchesBetweenReplacements % _workers.Count));
            }
        }
    }

    /// <summary>Checks the logs of every worker process ever started: each job started and finished exactly once.</summary>
    public void Verify()
    {
        var started = new List<int>();
        var done = new List<int>();
        foreach (var log in _logs)
        {
            var (logStarted, logDone, _) = LoggingJobs.ReadLog(log);
            started.AddRange(logStarted);
            done.AddRange(logDone);
        }

        foreach (var (what, ids) in new[] { ("started", started), ("finished", done) })
        {
            var counts = ids.GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
            var missing = Enumerable.Range(0, _jobs).Count(id => !counts.ContainsKey(id));
            var twice = counts.Count(pair => pair.Value > 1);
            var unknown = counts.Keys.Count(id => id < 0 || id >= _jobs);
            if (missing + twice + unknown != 0)
            {
                ledger.Violation($"jobs {what}: {missing} never, {twice} more than once, {unknown} never sent (of {_jobs})");
            }
        }

        ledger.Count("jobs run exactly once (worker logs)", started.Count == _jobs ? _jobs : 0);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, worker) in _workers)
        {
            await worker.StopAsync();
            await worker.DisposeAsync();
        }
    }

    /// <summary>
    /// Starts the new worker first and waits until the hub counts it, then stops the old one: between batches nothing is
    /// in flight, so no job is lost with it.
    /// </summary>
    private async Task ReplaceWorkerAsync(int index)
    {
        var (endpoint, old) = _workers[index];
        var attached = hub.WorkerCount;
        var replacement = await StartWorkerAsync(endpoint);
        _workers[index] = (endpoint, replacement);
        await WaitUntilAsync(() => hub.WorkerCount > attached, "the new worker to attach");
        if (!await old.StopAsync())
        {
            throw new InvalidOperationException($"worker {old.ProcessId} did not exit cleanly when its stdin closed: {old.Errors}");
        }

        await old.DisposeAsync();
        await WaitUntilAsync(() => hub.WorkerCount == attached, "the hub to see the old worker leave");
    }

    private Task<HostProcess> StartWorkerAsync(string endpoint)
    {
        var log = Path.Combine(logDirectory, $"worker-{_logs.Count}.log");
        _logs.Add(log);
        return HostProcess.StartAsync($"worker {_logs.Count}", workerHost, ["--endpoint", endpoint, "--log", log], readyLines: 1);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Ledger.OperationTimeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
        }
    }
}
