using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Samples;
using WorkQueueSample;

// dotnet run -c Release --project samples/WorkQueue [-- demo]      the whole demo (hub, producer, 3 worker processes)
// WorkQueue worker <hub worker endpoint>                            one worker process (the demo starts these)
// A failure it expects (a bad endpoint, no hub there) is one line on stderr and exit code 2 or 1.
if (args.Length >= 2 && args[0] == "worker")
{
    return await CommandLine.RunAsync("WorkQueue", () => RunWorkerAsync(args[1]));
}

if (args.Length > 0 && args[0] != "demo")
{
    Console.Error.WriteLine("usage: WorkQueue [demo] | worker <endpoint>");
    return CommandLine.UsageError;
}

return await CommandLine.RunAsync("WorkQueue", RunDemoAsync);

// A worker connects to the hub's worker endpoint and serves IJobQueue there, until the hub goes away.
static async Task<int> RunWorkerAsync(string endpoint)
{
    await using var connection = await RpcWorkQueue.ConnectWorkerAsync<IJobQueue>(endpoint, new Worker());
    Console.WriteLine("ready");
    var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
    await Task.WhenAny(connection.Completion, stdinClosed);
    return 0;
}

static async Task<int> RunDemoAsync()
{
    const int Jobs = 100;
    const int KillAfter = 40;
    var directory = Directory.CreateTempSubdirectory("rpc-workqueue-");
    var workers = new List<WorkerProcess>();
    try
    {
        await using var hub = new WorkQueueHub<IJobQueue>(new WorkQueueOptions { QueueCapacity = 64, WorkerConcurrency = 2 });
        var workerEndpoint = await hub.ListenForWorkersAsync($"unix://{Path.Combine(directory.FullName, "workers.sock")}");
        var producerEndpoint = await hub.ListenForProducersAsync($"unix://{Path.Combine(directory.FullName, "jobs.sock")}");
        Console.WriteLine($"hub: workers attach on {workerEndpoint}, producers call on {producerEndpoint}");

        for (var i = 0; i < 3; i++)
        {
            workers.Add(await WorkerProcess.StartAsync(workerEndpoint));
        }

        using var attached = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (hub.WorkerCount < 3)
        {
            await Task.Delay(10, attached.Token);
        }

        Console.WriteLine($"hub: 3 workers attached (pids {string.Join(", ", workers.Select(w => w.Pid))})");

        // The producer could be any process; here it is this one, on its own connection, like a remote producer.
        await using var connection = await RpcConnection.ConnectAsync(producerEndpoint);
        var producer = RpcWorkQueue.CreateProducer<IJobQueue>(connection);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var calls = new Task<JobReceipt>[Jobs];
        for (var job = 0; job < Jobs; job++)
        {
            calls[job] = job % 2 == 0
                ? producer.Proxy.MakeThumbnailAsync(job, timeout.Token)
                : producer.Proxy.ChargeCardAsync(job, timeout.Token);
        }

        Console.WriteLine($"producer: queued {Jobs} jobs (even: thumbnails, idempotent; odd: card charges, not idempotent)");

        // Kill one worker, as a crash would (SIGKILL), once a good part of the work is done and while it runs two jobs.
        var victim = workers[1];
        while (victim.Started.Count < KillAfter / 3 || victim.Started.Count - victim.Done.Count < 2)
        {
            await Task.Delay(1, timeout.Token);
        }

        victim.Kill();
        Console.WriteLine($"demo: killed worker {victim.Pid} with SIGKILL while it ran jobs [{string.Join(", ", victim.Started.Except(victim.Done).Order())}], {calls.Count(c => c.IsCompleted)} jobs completed");

        await producer.JoinAsync(timeout.Token);
        Console.WriteLine("producer: join returned: every queued job has completed or failed");

        var completed = 0;
        var lost = new List<int>();
        foreach (var (call, job) in calls.Select((c, j) => (c, j)))
        {
            try
            {
                await call;
                completed++;
            }
            catch (WorkerLostException)
            {
                lost.Add(job);
            }
        }

        // What the workers themselves say they ran: each prints "done <job>" for every job it finished.
        var done = workers.SelectMany(w => w.Done.Select(job => (job, w.Pid))).ToList();
        var survivorsRunTwice = done.Where(d => d.Pid != victim.Pid).GroupBy(d => d.job).Count(g => g.Count() > 1);
        var cardsRunTwice = done.Where(d => d.job % 2 == 1).GroupBy(d => d.job).Count(g => g.Count() > 1);
        var rerun = calls.Select((c, j) => (c, j)).Count(x => x.c.IsCompletedSuccessfully && x.j % 2 == 0 && victim.Started.Contains(x.j) && x.c.Result.WorkerPid != victim.Pid);

        Console.WriteLine($"result: {completed} jobs completed, {lost.Count} reported lost, 0 silently lost ({Jobs - completed - lost.Count} unaccounted)");
        Console.WriteLine($"result: {rerun} thumbnail(s) re-run on another worker after the kill");
        Console.WriteLine($"result: card charge(s) the dead worker may or may not have run, reported to the producer: [{string.Join(", ", lost)}]");
        Console.WriteLine($"check: jobs run twice by surviving workers: {survivorsRunTwice}; card charges run twice anywhere: {cardsRunTwice}");
        var ok = completed + lost.Count == Jobs && survivorsRunTwice == 0 && cardsRunTwice == 0 && lost.All(j => j % 2 == 1);
        Console.WriteLine(ok ? "OK: every job completed exactly once or was reported" : "FAILED");
        return ok ? 0 : 1;
    }
    finally
    {
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }

        directory.Delete(recursive: true);
    }
}

/// <summary>A job takes ~50 ms; the worker prints what it starts and finishes so the demo can check who ran what.</summary>
internal sealed class Worker : IJobQueue
{
    public Task<JobReceipt> MakeThumbnailAsync(int job, CancellationToken cancellationToken) => RunAsync(job, cancellationToken);

    public Task<JobReceipt> ChargeCardAsync(int job, CancellationToken cancellationToken) => RunAsync(job, cancellationToken);

    private static async Task<JobReceipt> RunAsync(int job, CancellationToken cancellationToken)
    {
        Console.WriteLine($"start {job}");
        await Task.Delay(50, cancellationToken);
        Console.WriteLine($"done {job}");
        return new JobReceipt(job, Environment.ProcessId);
    }
}

/// <summary>A copy of this executable running as a worker; its stdout tells which jobs it started and finished.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _reader;

    private WorkerProcess(Process process)
    {
        _process = process;
        _reader = Task.Run(ReadAsync);
    }

    public int Pid => _process.Id;

    public ConcurrentBag<int> Started { get; } = [];

    public ConcurrentBag<int> Done { get; } = [];

    public static async Task<WorkerProcess> StartAsync(string endpoint)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WorkQueue.dll"));
        }

        start.ArgumentList.Add("worker");
        start.ArgumentList.Add(endpoint);
        var process = Process.Start(start) ?? throw new InvalidOperationException("The worker did not start.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line != "ready")
        {
            process.Kill();
            throw new InvalidOperationException($"The worker did not start: {line}");
        }

        return new WorkerProcess(process);
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        await _reader;
        _process.Dispose();
    }

    private async Task ReadAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[1], out var job))
            {
                (parts[0] == "start" ? Started : Done).Add(job);
            }
        }
    }
}
