using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NetMQ;
using NetMQ.Sockets;
using Rpc;
using Rpc.Benchmarks.WorkQueue;

// dotnet run -c Release --project bench/Rpc.Benchmarks.WorkQueue -- [--quick] [--out <dir>]
// Roles started by the client: rpc-worker <hub worker endpoint> | netmq-worker <push endpoint> <reply endpoint>
if (args.Length > 0 && args[0] == "rpc-worker")
{
    await using var connection = await RpcWorkQueue.ConnectWorkerAsync<IBenchJobs>(args[1], new BenchJobs());
    Console.WriteLine("ready");
    await Task.WhenAny(connection.Completion, Task.Run(() => Console.In.ReadToEnd()));
    return 0;
}

if (args.Length > 0 && args[0] == "netmq-worker")
{
    return NetMqWorker.Run(args[1], args[2]);
}

var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var outDir = outIndex >= 0 ? args[outIndex + 1] : FindResultsDirectory();
var calls = quick ? 20_000 : 100_000;
var rounds = quick ? 1 : 3;
var workerCounts = new[] { 1, 2, 4 };
var rows = new List<(string Name, int Workers, List<double> Rates)>();

void Add(string name, int workers, double rate)
{
    var row = rows.FirstOrDefault(r => r.Name == name && r.Workers == workers);
    if (row.Name is null)
    {
        row = (name, workers, []);
        rows.Add(row);
    }

    row.Rates.Add(rate);
    Console.Error.WriteLine($"  {name}, {workers} worker(s): {rate:N0} calls/s");
}

var started = Stopwatch.StartNew();
for (var round = 0; round < rounds; round++)
{
    Console.Error.WriteLine($"round {round + 1}/{rounds}");
    foreach (var workers in workerCounts)
    {
        // Interleaved, so drift in the machine's load hits every row alike.
        Add("NetMQ PUSH/PULL + reply PUSH/PULL (untyped)", workers, await Bench.NetMqAsync(workers, calls));
        Add("Rpc work queue, 1 call per worker", workers, await Bench.RpcAsync(workers, 1, calls));
        Add("Rpc work queue, 32 calls per worker", workers, await Bench.RpcAsync(workers, 32, calls));
    }
}

var report = Report(rows, quick, calls, rounds, started.Elapsed, args);
Console.WriteLine(report);
Directory.CreateDirectory(outDir);
var file = Path.Combine(outDir, $"workqueue-{DateTime.UtcNow:yyyy-MM-dd}-vm{(quick ? "-quick" : string.Empty)}.md");
await File.WriteAllTextAsync(file, report);
Console.Error.WriteLine($"wrote {file}");
return 0;

static string FindResultsDirectory()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rpc.sln")))
    {
        dir = dir.Parent;
    }

    return dir is null ? Directory.GetCurrentDirectory() : Path.Combine(dir.FullName, "bench", "results");
}

static string Report(List<(string Name, int Workers, List<double> Rates)> rows, bool quick, int calls, int rounds, TimeSpan elapsed, string[] args)
{
    var netmq = rows.Where(r => r.Name.StartsWith("NetMQ", StringComparison.Ordinal)).ToDictionary(r => r.Workers, r => Median(r.Rates));
    var text = new StringBuilder();
    text.AppendLine(CultureInfo.InvariantCulture, $"# Work queue: Rpc vs NetMQ PUSH/PULL{(quick ? " (quick)" : string.Empty)}");
    text.AppendLine();
    text.AppendLine(CultureInfo.InvariantCulture, $"- command: `dotnet run -c Release --project bench/Rpc.Benchmarks.WorkQueue -- {string.Join(' ', args)}`");
    text.AppendLine(CultureInfo.InvariantCulture, $"- machine: {Environment.ProcessorCount} CPUs, {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim()}, .NET {Environment.Version}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    text.AppendLine(CultureInfo.InvariantCulture, $"- {calls:N0} calls per row and round, {rounds} round(s) interleaved, median shown; total {elapsed.TotalSeconds:N0} s");
    text.AppendLine("- every row: the producer (and, for Rpc, the hub) in the benchmark process; each worker its own process; TCP loopback;");
    text.AppendLine("  100-byte payload in, a 4-byte result back; 256 calls outstanding. NetMQ: a PUSH socket to the workers' PULL, and each");
    text.AppendLine("  worker PUSHes a reply to the producer's PULL, so both rows count completed round trips (a \"call\"), not one-way messages.");
    text.AppendLine();
    text.AppendLine("| path | workers | calls/s | vs NetMQ |");
    text.AppendLine("|---|---:|---:|---:|");
    foreach (var row in rows)
    {
        var rate = Median(row.Rates);
        text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {row.Workers} | {rate:N0} | {rate / netmq[row.Workers]:0.00}x |");
    }

    text.AppendLine();
    text.AppendLine("NetMQ gives no per-call result, no worker-loss handling and no typed contract; \"1 call per worker\" is the hub's default");
    text.AppendLine("(each worker runs one job at a time, least busy first), \"32 calls per worker\" pipelines like PUSH/PULL does.");
    return text.ToString();
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted[sorted.Count / 2];
}

namespace Rpc.Benchmarks.WorkQueue
{
    [RpcContract]
    public interface IBenchJobs
    {
        Task<int> WorkAsync(byte[] payload);
    }

    internal sealed class BenchJobs : IBenchJobs
    {
        public Task<int> WorkAsync(byte[] payload) => Task.FromResult(payload.Length);
    }

    internal static class Bench
    {
        private const int Outstanding = 256;
        private static readonly byte[] Payload = new byte[100];

        public static async Task<double> RpcAsync(int workerCount, int concurrency, int calls)
        {
            await using var hub = new WorkQueueHub<IBenchJobs>(new WorkQueueOptions { Name = "bench", WorkerConcurrency = concurrency, QueueCapacity = 1024 });
            var endpoint = await hub.ListenForWorkersAsync("tcp://127.0.0.1:0");
            var workers = new List<Child>();
            try
            {
                for (var i = 0; i < workerCount; i++)
                {
                    workers.Add(await Child.StartAsync("rpc-worker", endpoint));
                }

                using var attach = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                while (hub.WorkerCount < workerCount)
                {
                    await Task.Delay(10, attach.Token);
                }

                var jobs = hub.Proxy;
                await RunAsync(jobs, Math.Min(calls / 10, 5_000));
                var clock = Stopwatch.StartNew();
                await RunAsync(jobs, calls);
                return calls / clock.Elapsed.TotalSeconds;
            }
            finally
            {
                foreach (var worker in workers)
                {
                    await worker.DisposeAsync();
                }
            }
        }

        public static async Task<double> NetMqAsync(int workerCount, int calls)
        {
            using var push = new PushSocket();
            using var replies = new PullSocket();
            var pushPort = push.BindRandomPort("tcp://127.0.0.1");
            var replyPort = replies.BindRandomPort("tcp://127.0.0.1");
            var workers = new List<Child>();
            try
            {
                for (var i = 0; i < workerCount; i++)
                {
                    workers.Add(await Child.StartAsync("netmq-worker", $"tcp://127.0.0.1:{pushPort}", $"tcp://127.0.0.1:{replyPort}"));
                }

                // The workers have connected when they print ready; give ZeroMQ's handshakes a moment to finish.
                await Task.Delay(300);
                RunNetMq(push, replies, Math.Min(calls / 10, 5_000));
                var clock = Stopwatch.StartNew();
                RunNetMq(push, replies, calls);
                return calls / clock.Elapsed.TotalSeconds;
            }
            finally
            {
                foreach (var worker in workers)
                {
                    await worker.DisposeAsync();
                }
            }
        }

        private static async Task RunAsync(IBenchJobs jobs, int calls)
        {
            var next = 0;
            async Task LoopAsync()
            {
                while (Interlocked.Increment(ref next) <= calls)
                {
                    await jobs.WorkAsync(Payload);
                }
            }

            await Task.WhenAll(Enumerable.Range(0, Outstanding).Select(_ => Task.Run(LoopAsync)));
        }

        /// <summary>Sends on this thread, keeping at most <see cref="Outstanding"/> unanswered, like the Rpc rows.</summary>
        private static void RunNetMq(PushSocket push, PullSocket replies, int calls)
        {
            var sent = 0;
            var received = 0;
            while (received < calls)
            {
                while (sent < calls && sent - received < Outstanding)
                {
                    push.SendFrame(Payload);
                    sent++;
                }

                replies.ReceiveFrameBytes();
                received++;
                while (replies.TryReceiveFrameBytes(out _))
                {
                    received++;
                }
            }
        }
    }

    internal static class NetMqWorker
    {
        public static int Run(string pushEndpoint, string replyEndpoint)
        {
            using var pull = new PullSocket();
            using var reply = new PushSocket();
            pull.Connect(pushEndpoint);
            reply.Connect(replyEndpoint);
            Console.WriteLine("ready");
            var stop = 0;
            _ = Task.Run(() =>
            {
                Console.In.ReadToEnd();
                Volatile.Write(ref stop, 1);
            });
            var result = new byte[4];
            while (Volatile.Read(ref stop) == 0)
            {
                if (pull.TryReceiveFrameBytes(TimeSpan.FromMilliseconds(100), out var payload))
                {
                    BitConverter.TryWriteBytes(result, payload.Length);
                    reply.SendFrame(result);
                }
            }

            return 0;
        }
    }

    /// <summary>A copy of this executable in another role; disposing closes its stdin and kills it if it lingers.</summary>
    internal sealed class Child : IAsyncDisposable
    {
        private readonly Process _process;

        private Child(Process process) => _process = process;

        public static async Task<Child> StartAsync(params string[] arguments)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            {
                start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Rpc.Benchmarks.WorkQueue.dll"));
            }

            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            if (await process.StandardOutput.ReadLineAsync(timeout.Token) != "ready")
            {
                process.Kill();
                throw new InvalidOperationException($"{arguments[0]} did not start.");
            }

            return new Child(process);
        }

        public async ValueTask DisposeAsync()
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

            _process.Dispose();
        }
    }
}
