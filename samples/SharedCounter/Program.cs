using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Samples;
using Rpc.SharedState;

namespace SharedCounter;

/// <summary>
/// <c>counter [--workers N] [--increments M]</c>: N worker processes each add 1 to one shared counter M times, under its
/// lock; the total must be exactly N×M. <c>sum [--workers N] [--length L]</c>: N worker processes each fill their slice of
/// one shared array of L longs with the element indexes and add their slice's sum to a shared total (atomically); the
/// parent checks the total and re-sums the array itself. No element is ever copied between processes.
/// </summary>
internal static class Program
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(2);

    public static Task<int> Main(string[] args) => CommandLine.RunAsync("SharedCounter", () => RunAsync(args));

    private static async Task<int> RunAsync(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "counter";
        switch (mode)
        {
            case "count-worker":
                return CountWorker(args[1], Parse(args[2]));
            case "sum-worker":
                return SumWorker(args[1], Parse(args[2]), Parse(args[3]), Parse(args[4]));
            case "counter":
                return await CounterAsync(Option(args, "--workers", 4), Option(args, "--increments", 1_000_000));
            case "sum":
                return await SumAsync(Option(args, "--workers", 4), Option(args, "--length", 16 * 1024 * 1024));
            default:
                Console.Error.WriteLine("usage: SharedCounter [counter [--workers N] [--increments M] | sum [--workers N] [--length L]]");
                return CommandLine.UsageError;
        }
    }

    private static async Task<int> CounterAsync(int workers, int increments)
    {
        var name = "counter-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var counter = SharedValue<long>.Create(name);
        Console.WriteLine($"shared counter '{name}': {workers} worker processes x {increments:N0} locked increments");
        var clock = Stopwatch.StartNew();
        var ok = await RunWorkersAsync(workers, worker => ["count-worker", name, Text(increments)]);

        long expected = (long)workers * increments;
        Console.WriteLine($"counter = {counter.Value:N0}, expected {expected:N0}, in {clock.ElapsedMilliseconds} ms");
        ok &= counter.Value == expected;
        Console.WriteLine(ok ? "exact: the lock excluded every other process" : "FAILED");
        return ok ? 0 : 1;
    }

    private static int CountWorker(string name, int increments)
    {
        using var counter = SharedValue<long>.Open(name);
        for (var i = 0; i < increments; i++)
        {
            using var scope = counter.Lock(StepTimeout);

            // A read and a write: without the lock, two processes would read the same value and one increment would be lost.
            counter.Value = counter.Value + 1;
        }

        return 0;
    }

    private static async Task<int> SumAsync(int workers, int length)
    {
        var name = "sum-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var data = SharedArray<long>.Create(name, length);
        using var total = SharedValue<long>.Create(name + "-total");
        Console.WriteLine($"shared array '{name}': {length:N0} longs ({(long)length * sizeof(long) / (1024 * 1024)} MiB), filled and summed by {workers} worker processes");
        var clock = Stopwatch.StartNew();
        var ok = await RunWorkersAsync(workers, worker => ["sum-worker", name, Text(length), Text(worker), Text(workers)]);
        var elapsed = clock.ElapsedMilliseconds;

        // Sum of 0..length-1.
        var expected = (long)length * (length - 1) / 2;
        long resummed = 0;
        foreach (var element in data.AsSpan())
        {
            resummed += element;
        }

        Console.WriteLine($"total from the workers = {total.Array.AtomicRead(0):N0}; the parent's own sum of the array = {resummed:N0}; expected {expected:N0} ({elapsed} ms)");
        ok &= total.Array.AtomicRead(0) == expected && resummed == expected;
        Console.WriteLine(ok ? "every slice was written and summed in place" : "FAILED");
        return ok ? 0 : 1;
    }

    private static int SumWorker(string name, int length, int worker, int workers)
    {
        using var data = SharedArray<long>.Open(name, length);
        using var total = SharedValue<long>.Open(name + "-total");
        var sliceLength = (length + workers - 1) / workers;
        var start = Math.Min(length, worker * sliceLength);
        var slice = data.AsSpan(start, Math.Min(sliceLength, length - start));
        long sum = 0;
        for (var i = 0; i < slice.Length; i++)
        {
            slice[i] = start + i;
            sum += slice[i];
        }

        _ = total.Array.AtomicAdd(0, sum);
        return 0;
    }

    /// <summary>Starts <paramref name="workers"/> copies of this executable and waits for all; kills any left on the way out.</summary>
    private static async Task<bool> RunWorkersAsync(int workers, Func<int, string[]> arguments)
    {
        using var timeout = new CancellationTokenSource(StepTimeout);
        var children = new List<Process>();
        try
        {
            for (var i = 0; i < workers; i++)
            {
                children.Add(SelfProcess.Start(arguments(i)));
            }

            var ok = true;
            foreach (var child in children)
            {
                await child.WaitForExitAsync(timeout.Token);
                if (child.ExitCode != 0)
                {
                    Console.WriteLine($"  worker {child.Id} exited with {child.ExitCode}");
                    ok = false;
                }
            }

            return ok;
        }
        finally
        {
            SelfProcess.KillAll(children);
        }
    }

    private static int Option(string[] args, string option, int fallback)
    {
        var at = Array.IndexOf(args, option);
        return at >= 0 && at + 1 < args.Length ? Parse(args[at + 1]) : fallback;
    }

    private static int Parse(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
