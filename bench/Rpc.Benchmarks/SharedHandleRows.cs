using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Rpc.SharedState;

namespace Rpc.Benchmarks;

/// <summary>
/// <c>Rpc.Benchmarks shared-handles [--quick] [--out &lt;dir&gt;]</c>: bulk data updated by a server in a child process,
/// over <c>shm://</c> with the binary protocol, sent as an <see cref="RpcBuffer"/> (the bytes go there and back) against
/// passed as a <see cref="SharedArray{T}"/> handle (the server opens the caller's memory and updates it in place).
/// Both rows' server adds 1 to every byte; rows are interleaved round by round in one run.
/// </summary>
internal static class SharedHandleRows
{
    /// <summary>The frame limit of both sides: a 64 MiB payload and its header exceed the default.</summary>
    public const int MaxFrameSize = 80 * 1024 * 1024;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(bool quick, string? outDirectory, string command)
    {
        var rounds = quick ? 3 : 9;
        var started = DateTime.UtcNow;
        var loadAtStart = Report.LoadAverage();
        var unique = "rpcbench-handles-" + Environment.ProcessId.ToString(Invariant);
        var server = ChildServer.Start(Scenarios.RpcBulk, "shm://" + unique, TimeSpan.FromSeconds(60));
        try
        {
            return await RunRowsAsync(server.Endpoint, unique, quick, rounds, started, loadAtStart, outDirectory, command);
        }
        finally
        {
            server.Dispose();

            // The server ends with Environment.Exit: remove the socket file its shm:// listener leaves.
            File.Delete("/dev/shm/rpc-" + unique + ".sock");
        }
    }

    private static async Task<int> RunRowsAsync(string endpoint, string unique, bool quick, int rounds, DateTime started, string loadAtStart, string? outDirectory, string command)
    {
        await using var connection = await RpcConnection.ConnectAsync(endpoint, new RpcConnectionOptions { MaxFrameSize = MaxFrameSize });
        var proxy = connection.CreateProxy<IBenchService>();

        // Each row: its name, the payload size, calls per round, and one round's work.
        var rows = new List<(string Name, int Size, int Calls, Func<int, Task> Work)>();
        var arrays = new List<SharedArray<byte>>();
        try
        {
            foreach (var (size, label, calls) in new[] { (1 << 20, "1 MiB", quick ? 50 : 200), (64 << 20, "64 MiB", quick ? 4 : 10) })
            {
                var array = SharedArray<byte>.Create(unique + "-" + label.Replace(' ', '-'), size);
                arrays.Add(array);
                rows.Add(($"{label} as RpcBuffer (copied there and back)", size, calls, n => BufferCalls(proxy, size, n)));
                rows.Add(($"{label} as SharedArray<byte> handle (updated in place)", size, calls, n => HandleCalls(proxy, array, n)));
            }

            foreach (var row in rows)
            {
                await row.Work(Math.Max(2, row.Calls / 4));
            }

            var microseconds = rows.Select(_ => new List<double>()).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < rows.Count; i++)
                {
                    var clock = Stopwatch.StartNew();
                    await rows[i].Work(rows[i].Calls);
                    microseconds[i].Add(clock.Elapsed.TotalMicroseconds / rows[i].Calls);
                }

                Console.Error.WriteLine($"shared-handles round {round + 1}/{rounds} done");
            }

            var medians = microseconds.Select(Report.Median).ToArray();
            var text = Report.SideReport("Rpc shared-handle benchmarks", started, quick, loadAtStart, command);
            text.AppendLine(Invariant, $"- {rounds} interleaved rounds after a warm-up; median of the rounds");
            text.AppendLine();
            text.AppendLine("Client in this process, server in a child process, binary protocol over `shm://`. Each call: the server adds 1 to every byte. RpcBuffer rows: the client rents a buffer and sends it; the server receives a copy, updates it and returns it (a second copy). Handle rows: the client passes one `SharedArray<byte>` it keeps; the server opens it by name (maps it), updates it in place and disposes its handle; no byte is copied.");
            text.AppendLine();
            text.AppendLine("| row | µs / call | GiB / s touched | ÷ RpcBuffer |");
            text.AppendLine("|---|---:|---:|---:|");
            for (var i = 0; i < rows.Count; i++)
            {
                var ratio = i % 2 == 1 ? (medians[i] / medians[i - 1]).ToString("0.00", Invariant) : "–";
                var gibPerSecond = rows[i].Size / (medians[i] / 1e6) / (1L << 30);
                text.AppendLine(Invariant, $"| {rows[i].Name} | {medians[i]:0} | {gibPerSecond:0.00} | {ratio} |");
            }

            return Report.SaveSideReport(text, "shared-handles", started, quick, outDirectory);
        }
        finally
        {
            arrays.ForEach(array => array.Dispose());
        }
    }

    private static async Task BufferCalls(IBenchService proxy, int size, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            using var reply = await proxy.IncrementBufferAsync(RpcBuffer.Rent(size));
        }
    }

    private static async Task HandleCalls(IBenchService proxy, SharedArray<byte> array, int calls)
    {
        var first = array[0];
        var last = array[array.Length - 1];
        for (var i = 0; i < calls; i++)
        {
            _ = await proxy.IncrementSharedAsync(array);
        }

        // The server really updated the caller's memory, to the last byte.
        if (array[0] != (byte)(first + calls) || array[array.Length - 1] != (byte)(last + calls))
        {
            throw new InvalidOperationException("The server did not update the shared array in place.");
        }
    }
}
