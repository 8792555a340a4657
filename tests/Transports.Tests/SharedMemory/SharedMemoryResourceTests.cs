using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace Rpc.Transports.Tests.SharedMemory;

/// <summary>Leaks (fds, threads, /dev/shm files) and idle CPU. Round-trip timings are in bench/ (transport only, shm://).</summary>
[SupportedOSPlatform("linux")]
public sealed class SharedMemoryResourceTests(ITestOutputHelper output) : TestBase(TimeSpan.FromMinutes(3))
{
    [Fact]
    public async Task ConnectEchoDisconnectCycles_ReturnFdsThreadsAndFilesToBaseline()
    {
        ShmTestSupport.EnsureRegistered();
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName("c"), null, TimeoutToken));
        await CycleAsync(listener, 20);
        var baseline = await SettledAsync(int.MaxValue, int.MaxValue, int.MaxValue);
        var baselineFds = FdTargets();

        const int Cycles = 1000;
        await CycleAsync(listener, Cycles);

        var after = await SettledAsync(baseline.Fds, baseline.Threads + 4, baseline.Files);
        var newFds = string.Join(", ", FdTargets().Except(baselineFds));
        output.WriteLine($"baseline fds {baseline.Fds}, threads {baseline.Threads}, /dev/shm rpc files {baseline.Files}; after {Cycles} cycles: {after.Fds}, {after.Threads}, {after.Files}");
        Assert.True(after.Fds <= baseline.Fds, $"file descriptors: {baseline.Fds} before, {after.Fds} after {Cycles} cycles; new: {newFds}");
        Assert.True(after.Threads <= baseline.Threads + 4, $"threads: {baseline.Threads} before, {after.Threads} after {Cycles} cycles");
        Assert.True(after.Files <= baseline.Files, $"/dev/shm rpc-* files: {baseline.Files} before, {after.Files} after {Cycles} cycles");
    }

    [Fact]
    public async Task IdleConnections_CostAlmostNoCpu()
    {
        ShmTestSupport.EnsureRegistered();
        const int Pairs = 10;
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + ShmTestSupport.UniqueName("i"), null, TimeoutToken));
        var connections = new TransportConnection[Pairs * 2];
        for (var i = 0; i < Pairs; i++)
        {
            (connections[2 * i], connections[(2 * i) + 1]) = await ConnectPairAsync(listener);
            await connections[2 * i].Transport.Output.WriteAsync(new byte[] { 1 }, TimeoutToken);
            await ReadExactlyAsync(connections[(2 * i) + 1].Transport.Input, 1);
        }

        try
        {
            // Past their spin phase, idle receive threads sleep in the kernel (state S): measure from then on.
            await WaitUntilAsync(() =>
            {
                var receiveThreads = ThreadCpuTicks().Values.Where(t => t.Name.StartsWith("Rpc shm", StringComparison.Ordinal)).ToList();
                return receiveThreads.Count >= 2 * Pairs && receiveThreads.All(t => t.State == 'S');
            });
            var threadsBefore = ThreadCpuTicks();
            var (cpuBefore, wallBefore) = (ProcessCpuSeconds(), Stopwatch.GetTimestamp());
            await Task.Delay(5000, TimeoutToken);
            var cpu = ProcessCpuSeconds() - cpuBefore;
            var receiveThreadTicks = 0L;
            var otherThreads = new System.Collections.Generic.List<string>();
            foreach (var (id, (threadName, ticks, _)) in ThreadCpuTicks())
            {
                var delta = ticks - (threadsBefore.TryGetValue(id, out var before) ? before.Ticks : 0);
                if (threadName.StartsWith("Rpc shm", StringComparison.Ordinal))
                {
                    receiveThreadTicks += delta;
                }
                else if (delta > 0)
                {
                    otherThreads.Add($"{threadName}={delta * 10} ms");
                }
            }

            output.WriteLine($"receive threads together: {receiveThreadTicks * 10} ms CPU; other threads: {string.Join(", ", otherThreads)}");
            var wall = Stopwatch.GetElapsedTime(wallBefore).TotalSeconds;
            var percent = 100 * cpu / wall;
            output.WriteLine(FormattableString.Invariant(
                $"idle: {Pairs} connections ({Pairs * 2} receive threads) for {wall:F1} s: whole test process {percent:F2}% of one core ({cpu * 1000:F0} ms CPU), at most {percent / Pairs:F3}% per connection"));
            var receivePercent = 100 * receiveThreadTicks / 100.0 / wall;
            output.WriteLine(FormattableString.Invariant($"idle receive threads: {receivePercent:F2}% of one core for {Pairs} connections (tick resolution 10 ms)"));
            Assert.True(receivePercent < 5, $"{Pairs} idle connections' receive threads cost {receivePercent:F1}% of a core: something spins");
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private async Task CycleAsync(TransportListener listener, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            var (client, server) = await ConnectPairAsync(listener);
            await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }, TimeoutToken);
            await ReadExactlyAsync(server.Transport.Input, 3);
            await server.Transport.Output.WriteAsync(new byte[] { 4 }, TimeoutToken);
            await ReadExactlyAsync(client.Transport.Input, 1);
            await Bounded(Task.WhenAll(client.DisposeAsync().AsTask(), server.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Open descriptors, except assemblies the runtime maps lazily (they stay open for the process's life).</summary>
    private static string[] FdTargets() =>
        Directory.GetFileSystemEntries("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "?")
            .Where(target => !target.EndsWith(".dll", StringComparison.Ordinal))
            .ToArray();

    private async Task<(int Fds, int Threads, int Files)> SettledAsync(int fdTarget, int threadTarget, int fileTarget)
    {
        (int Fds, int Threads, int Files) counts = default;
        try
        {
            await WaitUntilAsync(
                () =>
                {
                    // Process objects and streams of earlier tests' peers close their pipes only when finalized.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    counts = (FdTargets().Length, Directory.GetFileSystemEntries("/proc/self/task").Length, ShmTestSupport.DevShmRpcFileCount());
                    return counts.Fds <= fdTarget && counts.Threads <= threadTarget && counts.Files <= fileTarget;
                },
                TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // Not settled: the caller's assertions say by how much.
        }

        return counts;
    }

    /// <summary>utime + stime (ticks), name and scheduler state (R running, S sleeping, …) of every thread of this process.</summary>
    private static System.Collections.Generic.Dictionary<string, (string Name, long Ticks, char State)> ThreadCpuTicks()
    {
        var result = new System.Collections.Generic.Dictionary<string, (string, long, char)>();
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var threadName = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                result[Path.GetFileName(task)] = (threadName, long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture), fields[0][0]);
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    private static double ProcessCpuSeconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture);
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }
}
