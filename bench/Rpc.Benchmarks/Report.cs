using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace Rpc.Benchmarks;

/// <summary>Renders the markdown report and writes it under bench/results.</summary>
internal static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Marks the block <c>scripts/bench-readme.sh</c> copies into the README's Benchmark section.</summary>
    public const string ReadmeBlockStart = "<!-- bench-table:start -->";

    /// <summary>Ends the block that starts with <see cref="ReadmeBlockStart"/>.</summary>
    public const string ReadmeBlockEnd = "<!-- bench-table:end -->";

    /// <summary>The 1, 5 and 15 minute load averages (first three fields of /proc/loadavg).</summary>
    public static string LoadAverage() =>
        ReadFirstLine("/proc/loadavg") is { } line ? string.Join(' ', line.Split(' ').Take(3)) : "unknown";

    /// <summary>
    /// Starts the report of a side benchmark (one that measures something other than calls against the transports'
    /// floors): title, machine, load and command lines.
    /// </summary>
    public static StringBuilder SideReport(string title, DateTime startedUtc, bool quick, string loadAtStart, string command)
    {
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"# {title}, {startedUtc:yyyy-MM-dd HH:mm} UTC ({(quick ? "quick" : "full")} run)");
        text.AppendLine();
        text.AppendLine(Invariant, $"- machine: `nproc` = {Environment.ProcessorCount}; .NET {Environment.Version}");
        text.AppendLine(Invariant, $"- load average (1/5/15 min): {loadAtStart} at the start, {LoadAverage()} at the end");
        text.AppendLine(Invariant, $"- command: `{command}`");
        return text;
    }

    /// <summary>Prints a side benchmark's report and saves it as <c>&lt;name&gt;-&lt;date&gt;-&lt;machine&gt;[-quick].md</c> beside the main reports.</summary>
    public static int SaveSideReport(StringBuilder text, string name, DateTime startedUtc, bool quick, string? outDirectory)
    {
        var report = text.ToString();
        Console.WriteLine(report);
        var directory = outDirectory ?? Path.GetDirectoryName(Paths(startedUtc, quick, filter: null, outDirectory: null)[0])!;
        var path = Path.Combine(directory, string.Create(Invariant, $"{name}-{startedUtc:yyyy-MM-dd}-{Environment.MachineName}{(quick ? "-quick" : string.Empty)}.md"));
        Save(report, [path]);
        Console.WriteLine($"written: {path}");
        return 0;
    }

    /// <summary>The median of the rounds of one row.</summary>
    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    public static string Render(List<Row> rows, BenchSettings settings, string? filter, string command, DateTime startedUtc, TimeSpan duration, bool optimized, string loadAtStart, string reportPath)
    {
        var loadAtEnd = LoadAverage();
        var machine = string.Create(Invariant, $"`nproc` = {Nproc()}, CPU: {CpuModel()}, {MemoryTotal()}, kernel {ReadFirstLine("/proc/sys/kernel/osrelease") ?? RuntimeInformation.OSDescription}");
        var runtime = string.Create(Invariant, $"{RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier}), workstation concurrent GC, tiered PGO on (runtime defaults)");
        var text = new StringBuilder();
        text.AppendLine(Invariant, $"# Rpc benchmarks, {startedUtc:yyyy-MM-dd HH:mm} UTC ({settings.Name} run{(filter is null ? string.Empty : $", filter \"{filter}\"")})");
        text.AppendLine();
        if (!optimized)
        {
            text.AppendLine("**WARNING: not an optimized (Release) build; these numbers are not comparable.**");
            text.AppendLine();
        }

        if (Overloaded(loadAtStart) || Overloaded(loadAtEnd))
        {
            text.AppendLine(Invariant, $"**WARNING: the 1-minute load average ({loadAtStart} at the start, {loadAtEnd} at the end) exceeds the {Environment.ProcessorCount} cores: spinning threads lose their core for whole scheduler slices, so the busy-poll floors are not floors in this run, and every figure is noisy. Rerun on a quiet machine.**");
            text.AppendLine();
        }

        text.AppendLine(Invariant, $"- machine: {machine}");
        text.AppendLine(Invariant, $"- .NET: {runtime}");
        text.AppendLine(Invariant, $"- load average (1/5/15 min): {loadAtStart} at the start, {loadAtEnd} at the end");
        text.AppendLine(Invariant, $"- command: `{command}`");
        text.AppendLine(Invariant, $"- {settings.Rounds} interleaved rounds in {duration.TotalMinutes:0.0} min; per row and round: {settings.SmallCallsPerRound:N0} small calls, {settings.InFlightCallsPerRound:N0} calls at {BenchSettings.InFlight} in flight, {settings.Echo64KPerRound:N0} × 64 KiB and {settings.Echo1MPerRound:N0} × 1 MiB echoes; warm-up ≥ {settings.WarmupTime.TotalSeconds:0.#} s of small calls per row first");
        text.AppendLine();
        text.AppendLine("Every row: client in this process, server in a child process. Transports: a Unix socket in a temp dir; TCP loopback; TLS over TCP loopback (floors: `SslStream`; the run's own certificate); a named pipe (`pipe://`, a Unix socket at $TMPDIR/CoreFxPipe_<name>; floor: NamedPipeServerStream/ClientStream); two anonymous pipes to a child process (floor: AnonymousPipeServerStream; Rpc: `RpcChildProcess`); shared memory (`shm://`; floor: two SPSC rings in a mapped /dev/shm file). Each transport has two floors, measured in the same run: **blocking** (blocking receives; shared memory: spin ≤ 20 µs then futex), what a plain program gets, and on a VM mostly the cost of waking a blocked thread; **busy-poll** (non-blocking receives polled in a spin loop; shared memory: both sides spin, no futex), the limit no thread that sleeps can reach. \"transport only\" rows send the floors' raw frames through Rpc's transport (`IDuplexPipe`), without the protocol. Ratios divide by the floor of the same transport; \"÷ blocking\" above 1 is Rpc's cost over a plain program, \"÷ busy-poll\" is the distance to the limit. For the raw floors, \"64 in flight\" is the pipelined floor (a writer thread keeps 64 requests outstanding, a reader thread takes replies in bulk; busy-poll: both on one thread).");
        text.AppendLine();
        text.AppendLine(ReadmeBlockStart);
        var overloaded = Overloaded(loadAtStart) || Overloaded(loadAtEnd) ? " **The machine was overloaded: the busy-poll floors are not floors here.**" : string.Empty;
        text.AppendLine(Invariant, $"Measured {startedUtc:yyyy-MM-dd HH:mm} UTC, {settings.Name} run ({settings.Rounds} interleaved rounds, {duration.TotalMinutes:0.0} min); {machine}; {runtime}; load average (1/5/15 min) {loadAtStart} at the start, {loadAtEnd} at the end.{overloaded} Full report: [{reportPath}]({reportPath}).");
        text.AppendLine();
        text.AppendLine("| row | small p50 µs | small p99 µs | calls/s, 1 in flight | calls/s, 64 in flight | 64 KiB echo p50 µs | 1 MiB echo p50 µs | B alloc / small call | small p50 ÷ blocking | small p50 ÷ busy-poll | 64 in flight ÷ blocking | 64 in flight ÷ busy-poll | 1 MiB echo ÷ blocking | 1 MiB echo ÷ busy-poll |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            if (!row.Active || row.Small.Count == 0)
            {
                text.AppendLine(Invariant, $"| {row.Name} | – | – | – | – | – | – | – | – | – | – | – | – | – |");
                continue;
            }

            var blocking = FloorOf(rows, row, FloorKind.Blocking);
            var busy = FloorOf(rows, row, FloorKind.BusyPoll);
            text.AppendLine(Invariant, $"| {row.Name} | {Micro(SmallP50(row))} | {Micro(row.Small.PercentileMicroseconds(99))} | {CallsPerSecond(row):N0} | {InFlight(row):N0} | {Micro(row.Echo64K.PercentileMicroseconds(50))} | {Micro(Echo1M(row))} | {AllocatedPerCall(row):N0} | {Ratio(row, blocking, SmallP50)} | {Ratio(row, busy, SmallP50)} | {Ratio(row, blocking, InFlight)} | {Ratio(row, busy, InFlight)} | {Ratio(row, blocking, Echo1M)} | {Ratio(row, busy, Echo1M)} |");
        }

        text.AppendLine(ReadmeBlockEnd);
        text.AppendLine();
        AppendTargets(text, rows);
        AppendSharedMemory(text, rows);
        AppendStability(text, rows);

        var notes = rows.Where(r => r.Skipped is not null || r.Note is not null).ToList();
        if (notes.Count > 0)
        {
            text.AppendLine("## Notes");
            text.AppendLine();
            foreach (var row in notes)
            {
                text.AppendLine(Invariant, $"- {row.Name}: {(row.Skipped is null ? string.Empty : "**skipped**: " + row.Skipped)}{row.Note}");
            }

            text.AppendLine();
        }

        text.AppendLine("How it is measured: see bench/README.md (percentiles are nearest-rank over all samples of all rounds, computed by the harness; calls/s with 1 in flight = calls ÷ total time of the small-call loops; calls/s with 64 in flight = median over rounds; allocations = `GC.GetTotalAllocatedBytes(true)` delta over each round's small-call loop ÷ calls, client process only).");
        return text.ToString();
    }

    /// <summary>Where the report goes: the dated file first, then <c>latest*.md</c> unless the run was filtered.</summary>
    public static List<string> Paths(DateTime startedUtc, bool quick, string? filter, string? outDirectory)
    {
        var directory = outDirectory ?? Path.Combine(FindBenchDirectory() ?? Directory.GetCurrentDirectory(), "results");
        var machine = new string([.. Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-')]);
        var stem = $"{startedUtc:yyyy-MM-dd}-{machine}" + (quick ? "-quick" : string.Empty);
        return filter is not null
            ? [Path.Combine(directory, stem + "-filtered.md")]
            : [Path.Combine(directory, stem + ".md"), Path.Combine(directory, quick ? "latest-quick.md" : "latest.md")];
    }

    public static void Save(string report, List<string> paths)
    {
        foreach (var path in paths)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, report);
        }
    }

    private static void AppendTargets(StringBuilder text, List<Row> rows)
    {
        text.AppendLine("## Targets: each Rpc row against the floors of its own transport, same run");
        text.AppendLine();
        text.AppendLine("A target is judged against the blocking floor, as stated; the busy-poll columns show the distance to the limit.");
        text.AppendLine();
        text.AppendLine("| target | Rpc | blocking floor | ÷ blocking | busy-poll floor | ÷ busy-poll | result |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---|");

        if (Pair(rows, "unix") is var (unix, unixFloor, unixBusy))
        {
            Target(text, "unix://: small call p50 ≤ 1.5× blocking floor", unix, unixFloor, unixBusy, SmallP50, "µs", ratio => ratio <= 1.5);
            Target(text, "unix://: 64 in flight ≥ 0.6× raw pipelined", unix, unixFloor, unixBusy, InFlight, "calls/s", ratio => ratio >= 0.6);
            Target(text, "unix://: 1 MiB echo p50 ≤ 3× raw 1 MiB echo", unix, unixFloor, unixBusy, Echo1M, "µs", ratio => ratio <= 3);
            var allocated = AllocatedPerCall(unix);
            text.AppendLine(Invariant, $"| unix://: ≤ 100 B allocated per small call (client) | {allocated:N0} B | – | – | – | – | {(allocated <= 100 ? "PASS" : "MISS")} |");
        }
        else
        {
            NotEvaluated(text, "unix:// targets", rows, "unix");
        }

        if (Pair(rows, "pipe") is var (pipe, pipeFloor, pipeBusy))
        {
            Target(text, "pipe://: small call p50 ≤ 1.5× blocking named pipe floor", pipe, pipeFloor, pipeBusy, SmallP50, "µs", ratio => ratio <= 1.5);
        }
        else
        {
            NotEvaluated(text, "pipe:// target", rows, "pipe");
        }

        if (Pair(rows, "child") is var (child, childFloor, childBusy))
        {
            Target(text, "RpcChildProcess: small call p50 ≤ 1.5× blocking anonymous pipe floor", child, childFloor, childBusy, SmallP50, "µs", ratio => ratio <= 1.5);
        }
        else
        {
            NotEvaluated(text, "RpcChildProcess target", rows, "child");
        }

        if (Pair(rows, "shm") is var (shm, shmFloor, shmBusy))
        {
            Target(text, "shm://: small call p50 ≤ 4× spin-then-futex floor", shm, shmFloor, shmBusy, SmallP50, "µs", ratio => ratio <= 4);
            var calls = CallsPerSecond(shm);
            text.AppendLine(Invariant, $"| shm://: ≥ 250,000 sequential calls/s (1 in flight) | {calls:N0} calls/s | {CallsPerSecond(shmFloor):N0} calls/s | {calls / 250_000:0.00}× of target | {Measured(shmBusy, r => CallsPerSecond(r).ToString("N0", Invariant) + " calls/s")} | – | {(calls >= 250_000 ? "PASS" : "MISS")} |");
            var gibs = GibPerSecond(shm);
            text.AppendLine(Invariant, $"| shm://: 1 MiB echo ≥ 1 GiB/s each way (1 MiB ÷ echo p50) | {gibs:0.00} GiB/s | {GibPerSecond(shmFloor):0.00} GiB/s | {gibs:0.00}× of target | {Measured(shmBusy, r => GibPerSecond(r).ToString("0.00", Invariant) + " GiB/s")} | – | {(gibs >= 1 ? "PASS" : "MISS")} |");
            if (shm.IdleCpu is { } idle)
            {
                var total = idle.Client + idle.Server;
                text.AppendLine(Invariant, $"| shm://: one open idle connection < 1% of a core (client + server, {idle.Seconds:0} s) | {total:0.00}% ({idle.Client:0.00}% + {idle.Server:0.00}%) | – | – | – | – | {(total < 1 ? "PASS" : "MISS")} |");
            }
            else
            {
                text.AppendLine("| shm://: one open idle connection < 1% of a core | not measured | – | – | – | – | – |");
            }
        }
        else
        {
            NotEvaluated(text, "shm:// targets", rows, "shm");
        }

        text.AppendLine();
    }

    /// <summary>The Rpc binary row of a transport, its blocking floor (both measured, else null), and its busy-poll floor if measured.</summary>
    private static (Row Rpc, Row Floor, Row? Busy)? Pair(List<Row> rows, string transport)
    {
        var rpc = rows.FirstOrDefault(r => !r.IsFloor && r.Transport == transport && r.Name.StartsWith("Rpc binary", StringComparison.Ordinal));
        var floor = rows.FirstOrDefault(r => r.Floor == FloorKind.Blocking && r.Transport == transport);
        return rpc is { Active: true, Small.Count: > 0 } && floor is { Active: true, Small.Count: > 0 }
            ? (rpc, floor, FloorOf(rows, rpc, FloorKind.BusyPoll))
            : null;
    }

    private static void NotEvaluated(StringBuilder text, string what, List<Row> rows, string transport)
    {
        var rpc = rows.FirstOrDefault(r => !r.IsFloor && r.Transport == transport && r.Name.StartsWith("Rpc binary", StringComparison.Ordinal));
        var reason = rpc is null ? "not in this run" : rpc.Skipped ?? "the row or its floor did not run";
        text.AppendLine(Invariant, $"| {what} | not evaluated: {reason} | – | – | – | – | – |");
    }

    private static bool Overloaded(string loadAverage) =>
        double.TryParse(loadAverage.Split(' ')[0], NumberStyles.Float, Invariant, out var oneMinute) && oneMinute > Environment.ProcessorCount;

    private static string Measured(Row? row, Func<Row, string> format) => row is null ? "not measured" : format(row);

    /// <summary>One way of a sequential 1 MiB echo: 1 MiB per round-trip p50 (each direction carries 1 MiB in that time).</summary>
    private static double GibPerSecond(Row row) => BenchSettings.Size1M / (Echo1M(row) / 1_000_000.0) / (1024.0 * 1024 * 1024);

    private static void AppendSharedMemory(StringBuilder text, List<Row> rows)
    {
        var shmRows = rows.Where(r => r.Transport == "shm" && r.Active && r.Small.Count > 0).ToList();
        if (shmRows.Count == 0)
        {
            return;
        }

        text.AppendLine("## Shared memory: sequential calls/s, 1 MiB echo throughput, idle cost");
        text.AppendLine();
        text.AppendLine("| row | sequential calls/s (1 in flight) | 1 MiB echo GiB/s each way (1 MiB ÷ p50) | 64 KiB echo GiB/s each way | idle CPU, one open connection (% of a core: client + server) |");
        text.AppendLine("|---|---:|---:|---:|---|");
        foreach (var row in shmRows)
        {
            var idle = row.IdleCpu is { } cpu
                ? string.Create(Invariant, $"{cpu.Client + cpu.Server:0.00}% ({cpu.Client:0.00}% + {cpu.Server:0.00}%) over {cpu.Seconds:0} s")
                : "–";
            var gib64K = BenchSettings.Size64K / (row.Echo64K.PercentileMicroseconds(50) / 1_000_000.0) / (1024.0 * 1024 * 1024);
            text.AppendLine(Invariant, $"| {row.Name} | {CallsPerSecond(row):N0} | {GibPerSecond(row):0.00} | {gib64K:0.00} | {idle} |");
        }

        text.AppendLine();
        text.AppendLine("Idle CPU: utime + stime from /proc/<pid>/stat of the client process (all its threads; every other row's connection is idle too, so this is an upper bound) and of the shm:// server process, over 5 s after a forced GC and 1 s to settle, with the connection open and no calls.");
        text.AppendLine();
    }

    /// <summary>One target row: Rpc's figure, both floors and both ratios; PASS/MISS on the ratio to the blocking floor.</summary>
    private static void Target(StringBuilder text, string name, Row rpc, Row floor, Row? busy, Func<Row, double> measure, string unit, Func<double, bool> pass)
    {
        var value = measure(rpc);
        var ratio = value / measure(floor);
        var format = unit == "µs" ? "0.0" : "N0";
        string Figure(double figure) => figure.ToString(format, Invariant) + " " + unit;
        text.AppendLine(Invariant, $"| {name} | {Figure(value)} | {Figure(measure(floor))} | {ratio:0.00}× | {Measured(busy, r => Figure(measure(r)))} | {Ratio(rpc, busy, measure)} | {(pass(ratio) ? "PASS" : "MISS")} |");
    }

    private static void AppendStability(StringBuilder text, List<Row> rows)
    {
        var measured = rows.Where(r => r.RoundSmallP50.Count > 0).ToList();
        if (measured.Count == 0)
        {
            return;
        }

        var rounds = measured.Max(r => r.RoundSmallP50.Count);
        text.AppendLine("## Noise: small-call p50 (µs) per round, and 64-in-flight calls/s min–max over rounds");
        text.AppendLine();
        text.AppendLine("| row | " + string.Join(" | ", Enumerable.Range(1, rounds).Select(i => "r" + i.ToString(Invariant))) + " | 64 in flight min–max |");
        text.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", rounds)) + "---:|");
        foreach (var row in measured)
        {
            var cells = Enumerable.Range(0, rounds).Select(i => i < row.RoundSmallP50.Count ? Micro(row.RoundSmallP50[i]) : "–");
            text.AppendLine(Invariant, $"| {row.Name} | {string.Join(" | ", cells)} | {row.InFlightCallsPerSecond.Min():N0}–{row.InFlightCallsPerSecond.Max():N0} |");
        }

        text.AppendLine();
    }

    private static Row? FloorOf(List<Row> rows, Row row, FloorKind kind) =>
        rows.FirstOrDefault(r => r.Floor == kind && r.Transport == row.Transport && r.Active && r.Small.Count > 0);

    private static double SmallP50(Row row) => row.Small.PercentileMicroseconds(50);

    private static double Echo1M(Row row) => row.Echo1M.PercentileMicroseconds(50);

    private static double CallsPerSecond(Row row) => row.Small.Count * (double)Stopwatch.Frequency / row.SmallElapsedTicks;

    private static double InFlight(Row row)
    {
        if (row.InFlightCallsPerSecond.Count == 0)
        {
            return double.NaN;
        }

        var sorted = row.InFlightCallsPerSecond.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double AllocatedPerCall(Row row) => row.AllocatedCalls == 0 ? double.NaN : row.AllocatedBytes / (double)row.AllocatedCalls;

    private static string Micro(double microseconds) =>
        double.IsNaN(microseconds) ? "–" : microseconds.ToString(microseconds < 100 ? "0.0" : "N0", Invariant);

    /// <summary><paramref name="measure"/> of <paramref name="row"/> ÷ the same of <paramref name="floor"/>, or a dash.</summary>
    private static string Ratio(Row row, Row? floor, Func<Row, double> measure)
    {
        if (floor is null)
        {
            return "–";
        }

        var (value, bar) = (measure(row), measure(floor));
        return double.IsNaN(value) || double.IsNaN(bar) || bar == 0 ? "–" : (value / bar).ToString("0.00", Invariant) + "×";
    }

    private static string? FindBenchDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var bench = Path.Combine(directory.FullName, "bench");
                if (File.Exists(Path.Combine(bench, "Rpc.Benchmarks", "Rpc.Benchmarks.csproj")))
                {
                    return bench;
                }
            }
        }

        return null;
    }

    private static string Nproc()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nproc") { RedirectStandardOutput = true, UseShellExecute = false });
            if (process is not null && process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                return process.StandardOutput.ReadToEnd().Trim();
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }

        return Environment.ProcessorCount.ToString(Invariant);
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string MemoryTotal()
    {
        var line = ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is null || !long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.Integer, Invariant, out var kib))
        {
            return "memory unknown";
        }

        return string.Create(Invariant, $"{kib / (1024.0 * 1024.0):0.0} GiB RAM");
    }

    private static string? ReadFirstLine(string path) => ReadLines(path).FirstOrDefault()?.Trim();

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }
}
