using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;

namespace Rpc.Benchmarks;

/// <summary>
/// <c>Rpc.Benchmarks [--quick] [--filter &lt;row substring&gt;] [--out &lt;dir&gt;]</c> measures every row (client, the default);
/// <c>Rpc.Benchmarks serve &lt;scenario&gt; &lt;endpoint&gt;</c> is the server child process the client starts.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Listeners.StartIfRequested();
        if (args.Length > 0 && args[0] == "serve")
        {
            if (args.Length != 3)
            {
                await Console.Error.WriteLineAsync("usage: Rpc.Benchmarks serve <scenario> <endpoint>");
                return 2;
            }

            return await ServerProgram.RunAsync(args[1], args[2]);
        }

        if (args.Length == 1 && args[0] == "serve-child")
        {
            // The Rpc child-process row: serve the parent over the inherited anonymous pipes until it goes away.
            await RpcChildProcess.ServeParentAsync<IBenchService>(new BenchService());
            return 0;
        }

        if (args.Length > 0 && args[0] == "shared-state")
        {
            // Shared arrays' atomics and lock against their raw floors, in this process (SharedStateRows.cs).
            var quickSharedState = args.Contains("--quick");
            var outAt = Array.IndexOf(args, "--out");
            return SharedStateRows.Run(quickSharedState, outAt > 0 && outAt + 1 < args.Length ? args[outAt + 1] : null, "dotnet run -c Release --project bench/Rpc.Benchmarks -- " + string.Join(' ', args));
        }

        if (args.Length > 0 && args[0] == "shared-handles")
        {
            // 1 MiB and 64 MiB updated by a server process: sent as RpcBuffer over shm:// vs as a shared array handle.
            var outAt = Array.IndexOf(args, "--out");
            return await SharedHandleRows.RunAsync(args.Contains("--quick"), outAt > 0 && outAt + 1 < args.Length ? args[outAt + 1] : null, "dotnet run -c Release --project bench/Rpc.Benchmarks -- " + string.Join(' ', args));
        }

        if (args.Length > 0 && args[0] == "loop")
        {
            // For profilers (perf, dotnet-trace): one row, one operation, in a loop, both pids printed.
            if (args.Length != 4 || !double.TryParse(args[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            {
                await Console.Error.WriteLineAsync("usage: Rpc.Benchmarks loop <row substring> <small|inflight|echo64k|echo1m> <seconds>");
                return 2;
            }

            return Harness.Loop(args[1], args[2], TimeSpan.FromSeconds(seconds));
        }

        var quick = false;
        string? filter = null;
        string? outDirectory = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--filter" when i + 1 < args.Length:
                    filter = args[++i];
                    break;
                case "--out" when i + 1 < args.Length:
                    outDirectory = args[++i];
                    break;
                default:
                    await Console.Error.WriteLineAsync("usage: dotnet run -c Release --project bench/Rpc.Benchmarks -- [--quick] [--filter <row substring>] [--out <dir>]");
                    return 2;
            }
        }

        var optimized = typeof(Program).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;
        var settings = quick ? BenchSettings.Quick : BenchSettings.Full;
        var command = "dotnet run -c Release --project bench/Rpc.Benchmarks --" + (args.Length == 0 ? string.Empty : " " + string.Join(' ', args));
        var started = DateTime.UtcNow;
        var loadAtStart = Report.LoadAverage();
        var paths = Report.Paths(started, quick, filter, outDirectory);
        var reportLink = outDirectory is null ? "bench/results/" + Path.GetFileName(paths[0]) : paths[0];
        var stopwatch = Stopwatch.StartNew();
        var rows = Harness.Run(settings, filter, optimized);
        var report = Report.Render(rows, settings, filter, command, started, stopwatch.Elapsed, optimized, loadAtStart, reportLink);
        Console.WriteLine();
        Console.WriteLine(report);
        Report.Save(report, paths);
        foreach (var path in paths)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"written: {path}"));
        }

        return 0;
    }
}
