using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.WorkQueues;

/// <summary>
/// Worker processes (tests/WorkerHost) attached to a hub in the test process, a producer on its own connection; workers
/// are SIGKILLed mid-call. Each worker logs every job it starts and finishes, so the tests check what ran where, not
/// only what the producer saw. Unix sockets, except <see cref="Every_link_runs_each_job_once_and_reruns_only_idempotent_jobs_of_a_killed_worker"/>,
/// which runs over every transport and with workers that are child processes of the hub.
/// </summary>
public sealed class WorkQueueProcessTests : TestBase, IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"rpc-wq-{Guid.NewGuid():N}");
    private readonly List<WorkerProcess> _workers = [];
    private CancellationTokenSource _timeout = null!;

    // Set by StartAsync: how workers reach the hub (a transport name or TestEndpoints.ChildProcess) and where producers connect.
    private string _transport = "unix";
    private string _producerEndpoint = null!;

    /// <summary>Gets a token that fires 60 s after the worker host is there (its first build is bounded on its own).</summary>
    protected override CancellationToken TimeoutToken => _timeout.Token;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);

        // A first build of the worker host is bounded on its own; the test's 60 s start after it.
        await WorkerProcess.EnsureHostAsync();
        _timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        _timeout.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Every_call_runs_on_exactly_one_worker()
    {
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"test-{Guid.NewGuid():N}" });
        var (workerEndpoint, producer, connection) = await StartAsync(hub);
        await using var _ = connection;
        await AddWorkersAsync(hub, workerEndpoint, 3);

        var results = await Task.WhenAll(Enumerable.Range(0, 150).Select(id => producer.Proxy.RunAsync(id, 2, TimeoutToken))).WaitAsync(TimeoutToken);
        await producer.JoinAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 150), results.Select(r => r.Id));
        var started = _workers.ToDictionary(w => w.ProcessId, w => LoggingJobs.ReadLog(w.LogPath).Started);
        var all = started.Values.SelectMany(ids => ids).ToList();
        Assert.Equal(150, all.Count);
        Assert.Equal(Enumerable.Range(0, 150), all.Order());
        foreach (var result in results)
        {
            Assert.Contains(result.Id, started[result.WorkerId]);
        }

        // Least busy with one slot each, ties round-robin: every worker took a share.
        Assert.All(started.Values, ids => Assert.NotEmpty(ids));
    }

    [Fact]
    public async Task A_worker_killed_mid_call_reruns_only_idempotent_calls()
    {
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"test-{Guid.NewGuid():N}", WorkerConcurrency = 2 });
        var (workerEndpoint, producer, connection) = await StartAsync(hub);
        await using var _ = connection;
        var stuck = await AddWorkerAsync(hub, workerEndpoint, hang: true);

        var idempotent = producer.Proxy.RunIdempotentAsync(1, 0, TimeoutToken);
        var once = producer.Proxy.RunAsync(2, 0, TimeoutToken);
        await WaitUntilAsync(() => LoggingJobs.ReadLog(stuck.LogPath).Started.Count == 2);
        var healthy = await AddWorkerAsync(hub, workerEndpoint);

        stuck.Kill();

        var rerun = await idempotent.WaitAsync(TimeoutToken);
        Assert.Equal(new JobResult(healthy.ProcessId, 1), rerun);
        var lost = await Assert.ThrowsAsync<WorkerLostException>(() => once).WaitAsync(TimeoutToken);
        Assert.Contains("not marked [RpcIdempotent]", lost.Message, StringComparison.Ordinal);

        // The killed worker started both; the healthy one re-ran only the idempotent call.
        Assert.Equal([1, 2], LoggingJobs.ReadLog(stuck.LogPath).Started.Order());
        Assert.Equal([1], LoggingJobs.ReadLog(healthy.LogPath).Started);
        await producer.JoinAsync(TimeoutToken);
    }

    [Fact]
    public async Task A_raw_proxy_sees_the_worker_loss_as_a_remote_error()
    {
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"test-{Guid.NewGuid():N}" });
        var (workerEndpoint, _, connection) = await StartAsync(hub);
        await using var __ = connection;
        var stuck = await AddWorkerAsync(hub, workerEndpoint, hang: true);

        var once = connection.CreateProxy<IJobs>().RunAsync(1, 0, TimeoutToken);
        await WaitUntilAsync(() => LoggingJobs.ReadLog(stuck.LogPath).Started.Count == 1);
        stuck.Kill();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => once).WaitAsync(TimeoutToken);
        Assert.Equal("Rpc.WorkerLostException", error.RemoteTypeName);
        Assert.True(RpcWorkQueue.IsWorkerLost(error));
    }

    [Fact]
    public async Task No_call_is_lost_or_run_twice_while_workers_are_killed_repeatedly()
    {
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"test-{Guid.NewGuid():N}", MaxAttempts = 5 });
        var (workerEndpoint, producer, connection) = await StartAsync(hub);
        await using var _ = connection;
        await AddWorkersAsync(hub, workerEndpoint, 3);

        // Even ids are idempotent, odd ids are not.
        const int Count = 240;
        var calls = Enumerable.Range(0, Count)
            .Select(id => id % 2 == 0 ? producer.Proxy.RunIdempotentAsync(id, 20, TimeoutToken) : producer.Proxy.RunAsync(id, 20, TimeoutToken))
            .ToList();

        // Each kill comes after another quarter of the jobs has started, so every one lands while jobs are running.
        var random = new Random(4);
        for (var kill = 0; kill < 3; kill++)
        {
            var started = (kill + 1) * Count / 4;
            await WaitUntilAsync(() => _workers.Sum(w => LoggingJobs.ReadLog(w.LogPath).Started.Count) >= started);
            var live = _workers.Where(w => !w.Killed).ToList();
            live[random.Next(live.Count)].Kill();
            await AddWorkerAsync(hub, workerEndpoint, waitForAttach: false);
        }

        await producer.JoinAsync(TimeoutToken);
        var killed = _workers.Where(w => w.Killed).Select(w => w.ProcessId).ToHashSet();
        var logs = _workers.ToDictionary(w => w.ProcessId, w => LoggingJobs.ReadLog(w.LogPath).Started);
        var lost = 0;
        for (var id = 0; id < Count; id++)
        {
            var runs = logs.Where(l => l.Value.Contains(id)).Select(l => (Worker: l.Key, Times: l.Value.Count(x => x == id))).ToList();
            Assert.All(runs, run => Assert.Equal(1, run.Times));
            var call = calls[id];
            if (call.IsCompletedSuccessfully)
            {
                // Completed: ran on the worker that answered, and anywhere else only on a worker that was killed.
                var result = await call;
                Assert.Equal(id, result.Id);
                Assert.Contains(runs, run => run.Worker == result.WorkerId);
                Assert.All(runs.Where(run => run.Worker != result.WorkerId), run => Assert.Contains(run.Worker, killed));
                if (id % 2 == 1)
                {
                    Assert.Single(runs);
                }
            }
            else
            {
                // Failed: only a call without the mark, only for a lost worker, and it ran at most once, on a killed worker.
                Assert.Equal(1, id % 2);
                Assert.IsType<WorkerLostException>(call.Exception!.InnerException);
                Assert.True(runs.Count <= 1);
                Assert.All(runs, run => Assert.Contains(run.Worker, killed));
                lost++;
            }
        }

        Assert.True(lost <= 3, $"{lost} calls lost with 3 kills of workers running one call each");
    }

    /// <summary>
    /// Over each transport, and with workers that are child processes of the hub (producers then use a Unix socket): a
    /// worker SIGKILLed mid-call has its idempotent call re-run on another worker and its other call fail, never re-run;
    /// then a producer in its own process runs jobs that each run exactly once on the surviving worker processes.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestEndpoints.TransportsAndChildProcess), MemberType = typeof(TestEndpoints))]
    public async Task Every_link_runs_each_job_once_and_reruns_only_idempotent_jobs_of_a_killed_worker(string transport)
    {
        const int Jobs = 40;
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions
        {
            Name = $"test-{Guid.NewGuid():N}",
            WorkerConcurrency = 2,
            Server = TestEndpoints.ServerOptions(transport),
        });
        var (workerEndpoint, producer, connection) = await StartAsync(hub, transport);
        await using var _ = connection;

        // A worker whose jobs never finish takes both calls; two healthy workers attach; then it dies mid-call.
        var stuck = await AddWorkerAsync(hub, workerEndpoint, hang: true);
        var idempotent = producer.Proxy.RunIdempotentAsync(1001, 0, TimeoutToken);
        var once = producer.Proxy.RunAsync(1002, 0, TimeoutToken);
        await WaitUntilAsync(() => LoggingJobs.ReadLog(stuck.LogPath).Started.Count == 2);
        var healthy = await AddWorkersAsync(hub, workerEndpoint, 2);
        stuck.Kill();

        var rerun = await idempotent.WaitAsync(TimeoutToken);
        Assert.Equal(1001, rerun.Id);
        Assert.Contains(rerun.WorkerId, healthy.Select(w => w.ProcessId));
        await Assert.ThrowsAsync<WorkerLostException>(() => once).WaitAsync(TimeoutToken);
        await producer.JoinAsync(TimeoutToken);

        // A producer process: every job runs exactly once, on a live worker, and reports the worker that ran it.
        var results = await WorkerProcess.RunProducerAsync(_producerEndpoint, Jobs, TestEndpoints.ClientHostArguments(ProducerTransport(transport)), TimeoutToken);
        Assert.Equal(Enumerable.Range(0, Jobs), results.Select(r => r.Id));
        var logs = healthy.ToDictionary(w => w.ProcessId, w => LoggingJobs.ReadLog(w.LogPath));
        foreach (var result in results)
        {
            Assert.Contains(result.WorkerId, logs.Keys);
            Assert.Contains(result.Id, logs[result.WorkerId].Done);
        }

        // The killed worker started both of its calls; the others ran each job once, the idempotent call's re-run included,
        // and never the call without the mark. Both took a share.
        Assert.Equal([1001, 1002], LoggingJobs.ReadLog(stuck.LogPath).Started.Order());
        Assert.Equal([.. Enumerable.Range(0, Jobs), 1001], logs.Values.SelectMany(log => log.Started).Order());
        Assert.All(logs.Values, log => Assert.Contains(log.Started, id => id < Jobs));
    }

    /// <summary>Producers use the workers' transport; with child-process workers, a Unix socket.</summary>
    private static string ProducerTransport(string transport) => transport == TestEndpoints.ChildProcess ? "unix" : transport;

    /// <summary>
    /// Binds the hub's endpoints on <paramref name="transport"/> and connects a producer. Workers that are child processes
    /// are attached by the hub's process, not accepted: then there is no worker endpoint (empty).
    /// </summary>
    private async Task<(string WorkerEndpoint, WorkQueueProducer<IJobs> Producer, RpcConnection Connection)> StartAsync(WorkQueueHub<IJobs> hub, string transport = "unix")
    {
        _transport = transport;
        var workers = transport == TestEndpoints.ChildProcess ? string.Empty : await hub.ListenForWorkersAsync(TestEndpoints.Create(transport), TimeoutToken);
        _producerEndpoint = await hub.ListenForProducersAsync(TestEndpoints.Create(ProducerTransport(transport)), TimeoutToken);
        var connection = await RpcConnection.ConnectAsync(_producerEndpoint, options: TestEndpoints.ClientOptions(ProducerTransport(transport)), cancellationToken: TimeoutToken);
        return (workers, RpcWorkQueue.CreateProducer<IJobs>(connection), connection);
    }

    private async Task<WorkerProcess> AddWorkerAsync(WorkQueueHub<IJobs> hub, string endpoint, bool hang = false, bool waitForAttach = true)
    {
        var attached = hub.WorkerCount;
        var worker = await StartWorkerAsync(hub, endpoint, hang);
        _workers.Add(worker);
        if (waitForAttach)
        {
            await WaitUntilAsync(() => hub.WorkerCount > attached);
        }

        return worker;
    }

    /// <summary>Starts <paramref name="count"/> healthy workers at once and waits until all are attached.</summary>
    private async Task<IReadOnlyList<WorkerProcess>> AddWorkersAsync(WorkQueueHub<IJobs> hub, string endpoint, int count)
    {
        var attached = hub.WorkerCount;
        var starts = Enumerable.Range(0, count).Select(_ => StartWorkerAsync(hub, endpoint, hang: false)).ToList();
        try
        {
            await Task.WhenAll(starts);
        }
        finally
        {
            // Every worker that did start is disposed with the test, even if another failed to.
            _workers.AddRange(starts.Where(start => start.IsCompletedSuccessfully).Select(start => start.Result));
        }

        await WaitUntilAsync(() => hub.WorkerCount >= attached + count);
        return [.. starts.Select(start => start.Result)];
    }

    private Task<WorkerProcess> StartWorkerAsync(WorkQueueHub<IJobs> hub, string endpoint, bool hang) =>
        _transport == TestEndpoints.ChildProcess
            ? WorkerProcess.StartChildAsync(hub, _directory, hang, TimeoutToken)
            : WorkerProcess.StartAsync(endpoint, _directory, hang, TimeoutToken, TestEndpoints.ClientHostArguments(_transport));
}
