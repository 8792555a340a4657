using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using Rpc.SharedState;

namespace Rpc.Benchmarks;

/// <summary>
/// <c>Rpc.Benchmarks shared-state [--quick] [--out &lt;dir&gt;]</c>: the cost of <see cref="SharedArray{T}"/>'s atomics and
/// lock against their raw floors (a bare <c>Interlocked</c> on the same mapped memory; a textbook futex mutex on a word
/// of the same mapping), interleaved round by round in one run.
/// </summary>
internal static unsafe class SharedStateRows
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private enum Element
    {
        RpcCounter = 0,
        FloorCounter = 16,
        FloorMutex = 32,
        Count = 48,
    }

    public static int Run(bool quick, string? outDirectory, string command)
    {
        var rounds = quick ? 3 : 9;
        var uncontended = quick ? 2_000_000 : 10_000_000;
        var contended = quick ? 200_000 : 1_000_000;
        var started = DateTime.UtcNow;
        var loadAtStart = Report.LoadAverage();
        using var array = SharedArray<int>.Create("rpcbench-" + Environment.ProcessId.ToString(Invariant), (int)Element.Count);
        int* floorMutex = (int*)Unsafe.AsPointer(ref array[(int)Element.FloorMutex]);

        // Each row: what it measures, its floor (null for a floor), operations per round, and one round's work.
        var rows = new List<(string Name, string? Floor, int Operations, Action<int> Work)>
        {
            ("atomic add, raw Interlocked.Add on the mapped int (floor)", null, uncontended, n => RawAdd(ref array[(int)Element.FloorCounter], n)),
            ("atomic add, SharedArray<int>.AtomicAdd", "atomic add, raw Interlocked.Add on the mapped int (floor)", uncontended, n => RpcAdd(array, n)),
            ("lock + unlock, uncontended, raw futex mutex (floor)", null, uncontended, n => RawLockUnlock(floorMutex, n)),
            ("lock + unlock, uncontended, SharedArray.Lock()", "lock + unlock, uncontended, raw futex mutex (floor)", uncontended, n => RpcLockUnlock(array, n)),
            ("lock + increment + unlock, 2 threads contending, raw futex mutex (floor)", null, contended, n => Contended(n, count => RawLockedIncrements(floorMutex, ref array[(int)Element.FloorCounter], count))),
            ("lock + increment + unlock, 2 threads contending, SharedArray.Lock()", "lock + increment + unlock, 2 threads contending, raw futex mutex (floor)", contended, n => Contended(n, count => RpcLockedIncrements(array, count))),
        };

        // Warm-up: every row for a while, so that tiered compilation (and PGO) has settled before the first measured round.
        var warmup = TimeSpan.FromSeconds(quick ? 1 : 3);
        foreach (var row in rows)
        {
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < warmup;)
            {
                row.Work(Math.Min(row.Operations, 50_000));
            }
        }

        var nanoseconds = rows.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < rows.Count; i++)
            {
                var clock = Stopwatch.StartNew();
                rows[i].Work(rows[i].Operations);
                nanoseconds[i].Add(clock.Elapsed.TotalNanoseconds / rows[i].Operations);
            }

            Console.Error.WriteLine($"shared-state round {round + 1}/{rounds} done");
        }

        var medians = nanoseconds.Select(Report.Median).ToArray();
        var text = Report.SideReport("Rpc shared-state benchmarks", started, quick, loadAtStart, command);
        text.AppendLine(Invariant, $"- {rounds} interleaved rounds after a warm-up of {warmup.TotalSeconds:0} s per row; per row and round {uncontended:N0} operations ({contended:N0} per thread when contended); median of the rounds");
        text.AppendLine();
        text.AppendLine("All rows work on one `SharedArray<int>` mapping in `/dev/shm`. Floors: `Interlocked.Add` through a bare reference to the element; a futex mutex (0 free, 1 locked, 2 locked with waiters; `FUTEX_WAIT`/`FUTEX_WAKE`, non-private) on a word of the same mapping. Contended rows: two threads of this process, which take the same kernel path (shared futex, keyed by file and offset) as two processes.");
        text.AppendLine();
        text.AppendLine("| row | ns / operation | million operations / s | ÷ floor |");
        text.AppendLine("|---|---:|---:|---:|");
        for (var i = 0; i < rows.Count; i++)
        {
            var floor = rows[i].Floor is { } floorName ? medians[rows.FindIndex(row => row.Name == floorName)] : double.NaN;
            var ratio = double.IsNaN(floor) ? "–" : (medians[i] / floor).ToString("0.00", Invariant);
            text.AppendLine(Invariant, $"| {rows[i].Name} | {medians[i]:0.0} | {1000 / medians[i]:0.0} | {ratio} |");
        }

        return Report.SaveSideReport(text, "shared-state", started, quick, outDirectory);
    }

    private static void RawAdd(ref int element, int count)
    {
        for (var i = 0; i < count; i++)
        {
            _ = Interlocked.Add(ref element, 1);
        }
    }

    private static void RpcAdd(SharedArray<int> array, int count)
    {
        for (var i = 0; i < count; i++)
        {
            _ = array.AtomicAdd((int)Element.RpcCounter, 1);
        }
    }

    private static void RawLockUnlock(int* mutex, int count)
    {
        for (var i = 0; i < count; i++)
        {
            RawLock(mutex);
            RawUnlock(mutex);
        }
    }

    private static void RpcLockUnlock(SharedArray<int> array, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var scope = array.Lock();
        }
    }

    private static void RawLockedIncrements(int* mutex, ref int counter, int count)
    {
        for (var i = 0; i < count; i++)
        {
            RawLock(mutex);
            counter++;
            RawUnlock(mutex);
        }
    }

    private static void RpcLockedIncrements(SharedArray<int> array, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var scope = array.Lock();
            array[(int)Element.RpcCounter]++;
        }
    }

    /// <summary>Runs <paramref name="work"/> on two threads at once, <paramref name="count"/> operations each.</summary>
    private static void Contended(int count, Action<int> work)
    {
        using var start = new Barrier(2);
        var other = new Thread(() =>
        {
            start.SignalAndWait();
            work(count);
        });
        other.Start();
        start.SignalAndWait();
        work(count);
        other.Join();
    }

    // The textbook futex mutex (Drepper, "Futexes Are Tricky", mutex 2): 0 free, 1 locked, 2 locked and maybe waited on.
    private static void RawLock(int* mutex)
    {
        var state = Interlocked.CompareExchange(ref *mutex, 1, 0);
        if (state == 0)
        {
            return;
        }

        if (state != 2)
        {
            state = Interlocked.Exchange(ref *mutex, 2);
        }

        while (state != 0)
        {
            Libc.FutexWait(mutex, 2, 1_000);
            state = Interlocked.Exchange(ref *mutex, 2);
        }
    }

    private static void RawUnlock(int* mutex)
    {
        if (Interlocked.Exchange(ref *mutex, 0) == 2)
        {
            // Two contenders at most: waking all is waking one.
            Libc.FutexWakeAll(mutex);
        }
    }
}
