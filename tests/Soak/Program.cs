using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Soak;
using Rpc.Tests.Groups;
using Rpc.Tests.WorkQueues;

// Usage: Rpc.Soak [--duration 60s|10m] [--warmup 15s] [--transports unix,tcp,shm] [--max-rss-growth-mib 64]
//   Mixed traffic against a server process (tests/TestHost), subscriber processes (TestHost --subscribe) and worker
//   processes (tests/WorkerHost) for the given time; prints a summary and exits 1 if anything was lost or a resource grew.
var duration = TimeSpan.FromSeconds(60);
TimeSpan? warmup = null;
var transports = new List<string> { "unix", "tcp", "shm" };
var maxRssGrowthMiB = 64.0;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--duration":
            duration = ParseTime(args[++i]);
            break;
        case "--warmup":
            warmup = ParseTime(args[++i]);
            break;
        case "--transports":
            transports = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            break;
        case "--max-rss-growth-mib":
            maxRssGrowthMiB = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

// Two checks per resource. Under load: the median of the last stretch of the run against the median of the last stretch
// of the warm-up (by then the runtime's pools and the thread pool have grown to the load; medians, because connections
// opening and closing make single samples jump). After the traffic: descriptors and files back to what they were before
// it started (exact for the server and the files, a few descriptors of slack for this process).
var warmupTime = warmup ?? TimeSpan.FromTicks(Math.Min(duration.Ticks / 4, TimeSpan.FromMinutes(1).Ticks));
var window = TimeSpan.FromTicks(Math.Min(warmupTime.Ticks / 2, TimeSpan.FromSeconds(10).Ticks));
const int FdSlack = 16;
const int ThreadSlack = 8;
const int FileSlack = 2;
const int SoakSettledFdSlack = 4;

var id = Guid.NewGuid().ToString("N")[..8];
var root = Path.Combine(Path.GetTempPath(), $"rpc-soak-{id}");
var sockets = Directory.CreateDirectory(Path.Combine(root, "sockets")).FullName;
var logs = Directory.CreateDirectory(Path.Combine(root, "logs")).FullName;
var shmPrefix = $"rpc-soak-{id}";
string Endpoint(string transport, string role) => transport switch
{
    "unix" => $"unix://{Path.Combine(sockets, role + ".sock")}",
    "tcp" => "tcp://127.0.0.1:0",
    "shm" => $"shm://soak-{id}-{role}",
    _ => throw new ArgumentException($"the soak runs over unix, tcp and shm, not '{transport}'"),
};

var testHost = Path.Combine(AppContext.BaseDirectory, "Rpc.TestHost.dll");
var workerHost = FindWorkerHost();
var ledger = new Ledger();
var hosts = new List<HostProcess>();
var clock = Stopwatch.StartNew();
Console.WriteLine($"soak {id}: {duration.TotalSeconds:F0} s over {string.Join(", ", transports)}, warm-up {warmupTime.TotalSeconds:F0} s, load average {LoadAverage()}");
try
{
    // The server process, on every transport.
    var server = await HostProcess.StartAsync("server", testHost, transports.SelectMany(t => new[] { "--endpoint", Endpoint(t, "server") }), transports.Count);
    hosts.Add(server);

    // The publisher, here, and one subscriber process per transport.
    var topics = new ConcurrentDictionary<string, RpcGroup<IGroupMember>>();
    using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
    {
        Name = "soak",
        FullQueuePolicy = RpcFullQueuePolicy.Wait,
        FullQueueWaitTimeout = Ledger.OperationTimeout,
    });
    topics["ticks"] = group;
    await using var publisher = new RpcServer().AddService<IFeed>(connection => new TopicFeed(connection, topics));
    foreach (var transport in transports)
    {
        var feed = await publisher.ListenAsync(Endpoint(transport, "feed"));
        hosts.Add(await HostProcess.StartAsync($"subscriber {transport}", testHost, ["--subscribe", feed, "--topic", "ticks"], readyLines: 1));
    }

    // The work-queue hub, here, one worker process per transport, and a producer connection.
    await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = "soak" });
    var workerEndpoints = new List<string>();
    foreach (var transport in transports)
    {
        workerEndpoints.Add(await hub.ListenForWorkersAsync(Endpoint(transport, "workers")));
    }

    await using var producerConnection = await RpcConnection.ConnectAsync(await hub.ListenForProducersAsync(Endpoint("unix", "producers")));
    await using var jobs = new JobTraffic(hub, RpcWorkQueue.CreateProducer<IJobs>(producerConnection), workerHost, logs, ledger);
    await jobs.StartWorkersAsync(workerEndpoints);

    var sampler = new ResourceSampler(server.ProcessId, shmPrefix, sockets);
    var idle = sampler.Take(TimeSpan.Zero);
    using var stop = new CancellationTokenSource(duration);
    var started = clock.Elapsed;
    var broadcasts = new BroadcastTraffic(group, ledger);

    // Two callers per transport, so connections open and close while others are busy.
    var traffic = new List<Task>
    {
        broadcasts.RunAsync(stop.Token),
        jobs.RunAsync(stop.Token),
    };
    foreach (var endpoint in server.Ready)
    {
        traffic.Add(new CallTraffic(endpoint, ledger).RunAsync(stop.Token));
        traffic.Add(new CallTraffic(endpoint, ledger).RunAsync(stop.Token));
    }

    using (var sampling = new PeriodicTimer(TimeSpan.FromSeconds(1)))
    {
        var all = Task.WhenAll(traffic);
        while (!all.IsCompleted)
        {
            sampler.Take(clock.Elapsed - started);
            await Task.WhenAny(all, sampling.WaitForNextTickAsync().AsTask());
        }

        await all;
    }

    var trafficEnded = clock.Elapsed - started;
    await broadcasts.VerifyAsync(transports.Count);
    jobs.Verify();

    // With the callers gone, the server must give back every connection's descriptors and shared-memory files.
    var settled = await SettleAsync(
        () => sampler.Take(clock.Elapsed - started),
        s => s.Server.Fds <= idle.Server.Fds && s.Soak.Fds <= idle.Soak.Fds + SoakSettledFdSlack && s.ShmFiles <= idle.ShmFiles && s.SocketFiles <= idle.SocketFiles);

    var baseline = sampler.Window(warmupTime - window, warmupTime);
    var end = sampler.Window(trafficEnded - window, trafficEnded);
    if (baseline.Count == 0 || end.Count == 0)
    {
        ledger.Violation($"no samples in the warm-up or end window (run at least {2 * warmupTime.TotalSeconds:F0} s)");
        baseline = end = [idle];
    }

    var rows = new List<(string Name, double Idle, double Baseline, double End, double EndMax, double Settled, string Limit, bool Ok)>();
    void Row(string name, Func<ResourceSample, double> value, double slack, int? settledSlack = null)
    {
        var (b, e, s) = (Median(baseline, value), Median(end, value), value(settled));
        var ok = e <= b + slack && (settledSlack is not { } allowed || s <= value(idle) + allowed);
        var limit = $"end <= warm-up + {slack}" + (settledSlack is { } after ? $"; after <= idle{(after > 0 ? $" + {after}" : string.Empty)}" : string.Empty);
        rows.Add((name, value(idle), b, e, end.Max(value), s, limit, ok));
        if (!ok)
        {
            ledger.Violation($"{name} grew: idle {value(idle):F1}, warm-up {b:F1}, end {e:F1}, after {s:F1} (limit: {limit})");
        }
    }

    Row("server RSS MiB", s => s.Server.RssMiB, maxRssGrowthMiB);
    Row("server fds", s => s.Server.Fds, FdSlack, settledSlack: 0);
    Row("server threads", s => s.Server.Threads, ThreadSlack);
    Row("soak RSS MiB (hub, publisher)", s => s.Soak.RssMiB, maxRssGrowthMiB);
    Row("soak fds (hub, publisher)", s => s.Soak.Fds, FdSlack, settledSlack: SoakSettledFdSlack);
    Row("soak threads (hub, publisher)", s => s.Soak.Threads, ThreadSlack);
    Row("/dev/shm files", s => s.ShmFiles, FileSlack, settledSlack: 0);
    Row("socket dir files", s => s.SocketFiles, FileSlack, settledSlack: 0);

    Console.WriteLine();
    Console.WriteLine($"| traffic ({trafficEnded.TotalSeconds:F0} s) | count |");
    Console.WriteLine("|---|---:|");
    ledger.Count("worker processes started", jobs.WorkerProcessesStarted);
    foreach (var (kind, count) in ledger.Counts)
    {
        Console.WriteLine($"| {kind} | {count:N0} |");
    }

    Console.WriteLine($"| **violations** | {ledger.ViolationCount:N0} |");
    Console.WriteLine();
    Console.WriteLine("| resource | idle | warm-up | end | end (max) | after | limit | ok |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|---|---|");
    foreach (var row in rows)
    {
        Console.WriteLine($"| {row.Name} | {row.Idle:F1} | {row.Baseline:F1} | {row.End:F1} | {row.EndMax:F1} | {row.Settled:F1} | {row.Limit} | {(row.Ok ? "yes" : "**NO**")} |");
    }

    Console.WriteLine("(idle: before the traffic; warm-up and end: medians of the last stretch of each; after: once the traffic stopped)");

    Console.WriteLine();
    Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()}, {Environment.ProcessorCount} CPUs");
}
catch (Exception e)
{
    ledger.Violation($"the soak itself failed: {e}");
}
finally
{
    foreach (var host in hosts)
    {
        if (!await host.StopAsync() && !host.HasExited)
        {
            ledger.Violation($"{host.Name} did not stop when its stdin closed");
        }

        await host.DisposeAsync();
    }

    try
    {
        Directory.Delete(root, recursive: true);
    }
    catch (IOException)
    {
        // A socket file of a server that is still going away; /tmp is cleaned anyway.
    }
}

foreach (var violation in ledger.Violations)
{
    Console.WriteLine($"VIOLATION {violation}");
}

Console.WriteLine(ledger.ViolationCount == 0 ? "soak passed" : $"soak FAILED: {ledger.ViolationCount} violations");
return ledger.ViolationCount == 0 ? 0 : 1;

static TimeSpan ParseTime(string text) => text[^1] switch
{
    's' => TimeSpan.FromSeconds(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    'm' => TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    'h' => TimeSpan.FromHours(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    _ => TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture)),
};

static double Median(IReadOnlyList<ResourceSample> samples, Func<ResourceSample, double> value)
{
    var sorted = samples.Select(value).Order().ToArray();
    return sorted[sorted.Length / 2];
}

static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

// Waits (at most 30 s) until the sample meets the condition; returns the last sample either way.
static async Task<ResourceSample> SettleAsync(Func<ResourceSample> take, Func<ResourceSample, bool> settled)
{
    var deadline = Stopwatch.StartNew();
    var sample = take();
    while (!settled(sample) && deadline.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(100);
        sample = take();
    }

    return sample;
}

// The worker host is built with the soak (a project reference) but not copied beside it: it compiles IJobs itself.
static string FindWorkerHost()
{
    var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
    var path = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "WorkerHost", "bin", configuration, "net10.0", "Rpc.WorkerHost.dll"));
    return File.Exists(path) ? path : throw new FileNotFoundException("Build tests/WorkerHost (dotnet build Rpc.sln) before the soak.", path);
}
