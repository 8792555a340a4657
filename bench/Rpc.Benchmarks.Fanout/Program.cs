using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NetMQ;
using NetMQ.Sockets;
using Rpc;
using Rpc.Benchmarks.Fanout;

// Usage:
//   Rpc.Benchmarks.Fanout [--quick] [--out <file.md>]   the publisher: measures every row, starts subscribers as children
//   Rpc.Benchmarks.Fanout rpc-sub <endpoint> <capacity>  a typed subscriber process
//   Rpc.Benchmarks.Fanout netmq-sub <endpoint> <capacity> a NetMQ SUB process
switch (args)
{
    case ["rpc-sub", var endpoint, var capacity]:
        return await RpcSubscriber.RunAsync(endpoint, int.Parse(capacity, CultureInfo.InvariantCulture));
    case ["netmq-sub", var endpoint, var capacity]:
        return NetMqSubscriber.Run(endpoint, int.Parse(capacity, CultureInfo.InvariantCulture));
}

var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : null;
var settings = new Settings(
    Messages: quick ? 100_000 : 400_000,
    LatencyRate: 10_000,
    LatencyMessages: quick ? 10_000 : 30_000,
    PayloadSize: 100);
int[] subscriberCounts = [1, 4, 16];

var rows = new List<(int Subscribers, Row Rpc, Row NetMq)>();
var total = Stopwatch.StartNew();
foreach (var n in subscriberCounts)
{
    var rpc = await Publisher.RunRpcAsync(n, settings);
    Console.Error.WriteLine($"rpc   x{n,2}: {rpc}");
    var netmq = Publisher.RunNetMq(n, settings);
    Console.Error.WriteLine($"netmq x{n,2}: {netmq}");
    rows.Add((n, rpc, netmq));
}

var report = new StringBuilder();
var inv = CultureInfo.InvariantCulture;
report.AppendLine(inv, $"# Fan-out: typed RpcGroup broadcast vs NetMQ 4.0.4.5 PUB/SUB{(quick ? " (--quick)" : string.Empty)}");
report.AppendLine();
report.AppendLine(inv, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}; one publisher process, N subscriber processes, TCP loopback for both.");
report.AppendLine(inv, $"Throughput: {settings.Messages:N0} messages of {settings.PayloadSize} bytes (+16 bytes of sequence and timestamp) published at full speed; received msg/s = all subscribers' messages / (last arrival - first arrival).");
report.AppendLine(inv, $"Latency: {settings.LatencyMessages:N0} messages paced at {settings.LatencyRate:N0} msg/s; one-way, publisher's Stopwatch timestamp to the subscriber's handler; median of the subscribers' p50, highest of their p99.");
report.AppendLine("RpcGroup runs with FullQueuePolicy.Wait (lossless: the publisher waits for the slowest member's queue, capacity 1024); NetMQ PUB with its default high-water mark of 1000 (drops when a subscriber falls behind).");
report.AppendLine();
report.AppendLine("| subscribers | RpcGroup msg/s (total) | delivered | in order | NetMQ PUB/SUB msg/s (total) | delivered | RpcGroup / NetMQ | RpcGroup p50 / p99 µs | NetMQ p50 / p99 µs | publisher GC heap after |");
report.AppendLine("|---:|---:|---:|---|---:|---:|---:|---|---|---:|");
foreach (var (n, rpc, netmq) in rows)
{
    report.AppendLine(inv, $"| {n} | {rpc.Throughput:N0} | {rpc.Delivered:P1} | {rpc.InOrder} | {netmq.Throughput:N0} | {netmq.Delivered:P1} | {rpc.Throughput / Math.Max(1, netmq.Throughput):F2}x | {rpc.P50:F0} / {rpc.P99:F0} | {netmq.P50:F0} / {netmq.P99:F0} | {rpc.HeapBytes / 1024.0 / 1024.0:F1} MiB |");
}

report.AppendLine();
report.AppendLine(inv, $"Run time: {total.Elapsed.TotalSeconds:F0} s. Publisher peak working set: {Environment.WorkingSet / 1024 / 1024} MiB now, {Process.GetCurrentProcess().PeakWorkingSet64 / 1024 / 1024} MiB peak (both libraries in one process). Load average at the end: {LoadAverage()}.");
Console.Write(report.ToString());
if (output is not null)
{
    File.WriteAllText(output, report.ToString());
}

return 0;

static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

internal sealed record Settings(int Messages, int LatencyRate, int LatencyMessages, int PayloadSize);

internal sealed record Row(double Throughput, double Delivered, bool InOrder, double P50, double P99, long HeapBytes)
{
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture, $"{Throughput:N0} msg/s, delivered {Delivered:P1}, in order {InOrder}, p50 {P50:F0} µs, p99 {P99:F0} µs, heap {HeapBytes / 1024 / 1024} MiB");
}

internal sealed record SubscriberResult(long Received, long First, long Last, double P50, double P99, bool InOrder)
{
    public static SubscriberResult Parse(string line)
    {
        var p = line.Split(' ');
        var inv = CultureInfo.InvariantCulture;
        return new(long.Parse(p[1], inv), long.Parse(p[2], inv), long.Parse(p[3], inv), double.Parse(p[4], inv), double.Parse(p[5], inv), bool.Parse(p[6]));
    }
}

internal static class Publisher
{
    private static readonly TimeSpan ResultTimeout = TimeSpan.FromSeconds(120);

    public static async Task<Row> RunRpcAsync(int subscribers, Settings settings)
    {
        using var group = new RpcGroup<IFanoutSink>(new RpcGroupOptions
        {
            Name = "fanout-bench",
            FullQueuePolicy = RpcFullQueuePolicy.Wait,
            FullQueueWaitTimeout = TimeSpan.FromSeconds(30),
        });
        await using var server = new RpcServer();
        server.ConnectionAccepted += connection => group.Add(connection);
        var endpoint = await server.ListenAsync("tcp://127.0.0.1:0");
        using var children = Children.Start("rpc-sub", endpoint, subscribers, settings.Messages);
        await children.WaitReadyAsync();
        while (group.Count < subscribers)
        {
            await Task.Delay(10);
        }

        var payload = new byte[settings.PayloadSize];
        var all = group.All;

        // Warm-up round (JIT, tiering, buffers), not reported.
        for (var i = 0; i < 20_000; i++)
        {
            all.OnMessage(i, Stopwatch.GetTimestamp(), payload);
        }

        all.OnEnd(20_000);
        await children.ReadResultsAsync(ResultTimeout);

        for (var i = 0; i < settings.Messages; i++)
        {
            all.OnMessage(i, Stopwatch.GetTimestamp(), payload);
        }

        all.OnEnd(settings.Messages);
        var throughput = await children.ReadResultsAsync(ResultTimeout);
        var heap = HeapAfterCollect();

        Paced(settings, (i, timestamp) => all.OnMessage(i, timestamp, payload));
        all.OnEnd(settings.LatencyMessages);
        var latency = await children.ReadResultsAsync(ResultTimeout);
        all.OnEnd(-1);
        children.WaitForExit();
        return Summarize(throughput, latency, settings.Messages, subscribers, heap);
    }

    public static Row RunNetMq(int subscribers, Settings settings)
    {
        using var publisher = new PublisherSocket();
        publisher.Options.SendHighWatermark = 1000;
        var port = publisher.BindRandomPort("tcp://127.0.0.1");
        using var children = Children.Start("netmq-sub", $"tcp://127.0.0.1:{port}", subscribers, settings.Messages);
        children.WaitReadyAsync().GetAwaiter().GetResult();

        // PUB/SUB's slow joiner: subscriptions reach the publisher shortly after connect.
        Thread.Sleep(500);
        var frame = new byte[16 + settings.PayloadSize];
        void Send(long sequence, long timestamp)
        {
            BitConverter.TryWriteBytes(frame.AsSpan(0, 8), sequence);
            BitConverter.TryWriteBytes(frame.AsSpan(8, 8), timestamp);
            publisher.SendFrame(frame);
        }

        void End(long round)
        {
            for (var i = 0; i < 5; i++)
            {
                Thread.Sleep(50);
                Send(-1, round);
            }
        }

        for (var i = 0; i < 20_000; i++)
        {
            Send(i, Stopwatch.GetTimestamp());
        }

        End(1);
        children.ReadResultsAsync(ResultTimeout).GetAwaiter().GetResult();

        for (var i = 0; i < settings.Messages; i++)
        {
            Send(i, Stopwatch.GetTimestamp());
        }

        End(2);
        var throughput = children.ReadResultsAsync(ResultTimeout).GetAwaiter().GetResult();
        var heap = HeapAfterCollect();
        Paced(settings, Send);
        End(3);
        var latency = children.ReadResultsAsync(ResultTimeout).GetAwaiter().GetResult();
        for (var i = 0; i < 5; i++)
        {
            Send(-2, 0);
            Thread.Sleep(20);
        }

        children.WaitForExit();
        return Summarize(throughput, latency, settings.Messages, subscribers, heap);
    }

    private static long HeapAfterCollect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetGCMemoryInfo().HeapSizeBytes;
    }

    /// <summary>Publishes at a fixed rate: sleeps while more than a millisecond ahead, then spins to the slot.</summary>
    private static void Paced(Settings settings, Action<long, long> send)
    {
        var period = Stopwatch.Frequency / (double)settings.LatencyRate;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < settings.LatencyMessages; i++)
        {
            var slot = start + (long)(i * period);
            while (true)
            {
                var ahead = slot - Stopwatch.GetTimestamp();
                if (ahead <= 0)
                {
                    break;
                }

                if (ahead > Stopwatch.Frequency / 1000)
                {
                    Thread.Sleep(1);
                }
                else
                {
                    Thread.SpinWait(50);
                }
            }

            send(i, Stopwatch.GetTimestamp());
        }
    }

    private static Row Summarize(IReadOnlyList<SubscriberResult> throughput, IReadOnlyList<SubscriberResult> latency, int messages, int subscribers, long heap)
    {
        var received = throughput.Sum(r => r.Received);
        var received0 = throughput.Where(r => r.Received > 0).ToList();
        var seconds = received0.Count == 0 ? 1 : (received0.Max(r => r.Last) - received0.Min(r => r.First)) / (double)Stopwatch.Frequency;
        var p50s = latency.Select(r => r.P50).Order().ToList();
        return new Row(
            received / Math.Max(seconds, 1e-9),
            received / (double)((long)messages * subscribers),
            throughput.All(r => r.InOrder),
            p50s[p50s.Count / 2],
            latency.Max(r => r.P99),
            heap);
    }
}

/// <summary>The subscriber processes of one run; disposing kills any still running.</summary>
internal sealed class Children : IDisposable
{
    private readonly List<Process> _processes;

    private Children(List<Process> processes) => _processes = processes;

    public static Children Start(string mode, string endpoint, int count, int capacity)
    {
        var processes = new List<Process>();
        var self = Environment.ProcessPath ?? "dotnet";
        for (var i = 0; i < count; i++)
        {
            var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Rpc.Benchmarks.Fanout.dll"));
            }

            start.ArgumentList.Add(mode);
            start.ArgumentList.Add(endpoint);
            start.ArgumentList.Add(capacity.ToString(CultureInfo.InvariantCulture));
            processes.Add(Process.Start(start) ?? throw new InvalidOperationException("A subscriber did not start."));
        }

        return new Children(processes);
    }

    public async Task WaitReadyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var process in _processes)
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line && line != "READY")
            {
            }
        }
    }

    public async Task<IReadOnlyList<SubscriberResult>> ReadResultsAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var results = new List<SubscriberResult>();
        foreach (var process in _processes)
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancel.Token)
                    ?? throw new InvalidOperationException($"Subscriber {process.Id} exited before reporting.");
                if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    results.Add(SubscriberResult.Parse(line));
                    break;
                }
            }
        }

        return results;
    }

    public void WaitForExit()
    {
        foreach (var process in _processes)
        {
            process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }

            process.Dispose();
        }
    }
}
