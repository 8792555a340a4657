using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Pipes;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Benchmarks;

/// <summary>How much each run measures.</summary>
internal sealed record BenchSettings(
    string Name,
    int Rounds,
    int SmallCallsPerRound,
    int InFlightCallsPerRound,
    int Echo64KPerRound,
    int Echo1MPerRound,
    TimeSpan WarmupTime)
{
    public const int InFlight = 64;
    public const int Size64K = 64 * 1024;
    public const int Size1M = 1024 * 1024;

    /// <summary>What CI could run: a few thousand calls per row, well under two minutes.</summary>
    public static BenchSettings Quick { get; } = new("quick", Rounds: 2, SmallCallsPerRound: 2_500, InFlightCallsPerRound: 10_000, Echo64KPerRound: 150, Echo1MPerRound: 15, WarmupTime: TimeSpan.FromSeconds(0.5));

    /// <summary>The full run (a few minutes).</summary>
    public static BenchSettings Full { get; } = new("full", Rounds: 8, SmallCallsPerRound: 20_000, InFlightCallsPerRound: 60_000, Echo64KPerRound: 1_000, Echo1MPerRound: 100, WarmupTime: TimeSpan.FromSeconds(2));
}

/// <summary>One line of the table: a server child process, a client in this process, and what was measured.</summary>
internal sealed class Row
{
    public required string Name { get; init; }

    public required string Scenario { get; init; }

    /// <summary>"unix", "tcp", "tls", "pipe", "child" or "shm": rows are compared with the floors of the same transport kind.</summary>
    public required string Transport { get; init; }

    /// <summary>Whether this row is a raw floor of its transport, and which.</summary>
    public required FloorKind Floor { get; init; }

    public bool IsFloor => Floor != FloorKind.None;

    public required Func<string, Task<BenchClient>> Connect { get; init; }

    /// <summary>For rows whose client starts its own server (anonymous pipes to a child): replaces "start server, then connect".</summary>
    public Func<(ChildServer? Server, BenchClient Client)>? Launch { get; init; }

    /// <summary>The server's pid, whether a <see cref="ChildServer"/> or a child the client started.</summary>
    public int? ServerProcessId => Server?.ProcessId ?? Client?.ServerProcessId;

    /// <summary>CPU of one open idle connection (% of one core) over the idle window: client process, server process; or <see langword="null"/>.</summary>
    public (double Client, double Server, double Seconds)? IdleCpu { get; set; }

    public string? Note { get; set; }

    /// <summary>Why the row has no numbers (not implemented yet, failed), or <see langword="null"/>.</summary>
    public string? Skipped { get; set; }

    public ChildServer? Server { get; set; }

    public BenchClient? Client { get; set; }

    public Samples Small { get; } = new();

    public long SmallElapsedTicks { get; set; }

    public long AllocatedBytes { get; set; }

    public long AllocatedCalls { get; set; }

    public List<double> InFlightCallsPerSecond { get; } = [];

    public Samples Echo64K { get; } = new();

    public Samples Echo1M { get; } = new();

    public List<double> RoundSmallP50 { get; } = [];

    public bool Active => Skipped is null;
}

/// <summary>The two floors every transport has: what a plain blocking program gets, and the limit (no thread ever sleeps).</summary>
internal enum FloorKind
{
    /// <summary>Not a floor: a row measured against the floors.</summary>
    None,

    /// <summary>Blocking receives: most of a round trip is waking the blocked thread (an idle vCPU on a VM).</summary>
    Blocking,

    /// <summary>Non-blocking receives polled in a spin loop (shared memory: both sides spin on the ring counters).</summary>
    BusyPoll,
}

/// <summary>Round-trip samples in Stopwatch ticks; percentiles are nearest-rank over the pooled samples.</summary>
internal sealed class Samples
{
    private long[] _ticks = new long[1024];

    public int Count { get; private set; }

    public (long[] Array, int Offset) Reserve(int count)
    {
        if (Count + count > _ticks.Length)
        {
            Array.Resize(ref _ticks, Math.Max(_ticks.Length * 2, Count + count));
        }

        var offset = Count;
        Count += count;
        return (_ticks, offset);
    }

    public double PercentileMicroseconds(double percentile) => Percentile(_ticks.AsSpan(0, Count), percentile);

    public static double Percentile(ReadOnlySpan<long> ticks, double percentile)
    {
        if (ticks.IsEmpty)
        {
            return double.NaN;
        }

        var sorted = ticks.ToArray();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)] * 1_000_000.0 / Stopwatch.Frequency;
    }
}

/// <summary>Starts the servers, connects, warms up, then measures every row round by round (interleaved).</summary>
internal static class Harness
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(180);

    public static List<Row> Run(BenchSettings settings, string? filter, bool optimized)
    {
        if (!optimized)
        {
            Log("WARNING: this is not an optimized (Release) build; numbers are not comparable.");
        }

        var rows = SelectRows(filter);
        var directory = Directory.CreateTempSubdirectory("rpcbench-");
        BenchTls.Prepare(directory.FullName);
        var payload64K = MakePayload(BenchSettings.Size64K, 1);
        var payload1M = MakePayload(BenchSettings.Size1M, 2);
        try
        {
            foreach (var row in rows)
            {
                Start(row, directory.FullName);
            }

            foreach (var row in rows.Where(r => r.Active))
            {
                Step(row, "warm-up", () => WarmUp(row, settings, payload64K, payload1M));
            }

            for (var round = 0; round < settings.Rounds; round++)
            {
                Log(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}/{settings.Rounds}"));

                // Rotate the order each round so no row always runs right after the same neighbour.
                var active = rows.Where(r => r.Active).ToList();
                for (var k = 0; k < active.Count; k++)
                {
                    var row = active[(k + round) % active.Count];
                    Step(row, "measure", () => Measure(row, settings, payload64K, payload1M));
                }
            }

            foreach (var row in rows.Where(r => r.Active && r.Scenario == Scenarios.RpcBinary && r.Transport == "shm"))
            {
                Step(row, "idle CPU", () => MeasureIdle(row, TimeSpan.FromSeconds(5)));
            }
        }
        finally
        {
            foreach (var row in rows)
            {
                Stop(row);
            }

            try
            {
                directory.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return rows;
    }

    /// <summary>Runs one operation of the first row matching <paramref name="filter"/> until <paramref name="duration"/> passes.</summary>
    public static int Loop(string filter, string operation, TimeSpan duration)
    {
        var row = SelectRows(filter).FirstOrDefault(r => r.Name.Contains(filter, StringComparison.OrdinalIgnoreCase));
        if (row is null)
        {
            Log($"no row matches '{filter}'");
            return 2;
        }

        var directory = Directory.CreateTempSubdirectory("rpcbench-");
        BenchTls.Prepare(directory.FullName);
        try
        {
            Start(row, directory.FullName);
            if (!row.Active)
            {
                return 1;
            }

            var payload = MakePayload(operation == "echo1m" ? BenchSettings.Size1M : BenchSettings.Size64K, 1);
            var count = operation switch
            {
                "small" => 10_000,
                "inflight" => 64_000,
                "echo64k" => 1_000,
                "echo1m" => 100,
                _ => throw new ArgumentException($"Unknown operation '{operation}'.", nameof(operation)),
            };
            var samples = new long[count];
            Log(string.Create(CultureInfo.InvariantCulture, $"{row.Name}: client pid {Environment.ProcessId}, server pid {row.ServerProcessId}; {operation} for {duration.TotalSeconds:0} s"));
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var gen2Before = GC.CollectionCount(2);
            var clock = Stopwatch.StartNew();
            long calls = 0;
            while (clock.Elapsed < duration)
            {
                Run(
                    () => operation switch
                    {
                        "small" => row.Client!.SmallAsync(samples, 0, count),
                        "inflight" => row.Client!.InFlightAsync(count, BenchSettings.InFlight),
                        _ => row.Client!.EchoAsync(payload, samples, 0, count),
                    },
                    operation);
                calls += count;
            }

            var elapsed = clock.Elapsed;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            Log(string.Create(CultureInfo.InvariantCulture, $"{calls:N0} calls, mean {elapsed.TotalMicroseconds / calls:0.0} µs per call, {allocated / (double)calls:N0} B allocated per call, {GC.CollectionCount(2) - gen2Before} gen2 GCs (client)"));
            return 0;
        }
        finally
        {
            Stop(row);
            directory.Delete(recursive: true);
        }
    }

    private static List<Row> SelectRows(string? filter)
    {
        List<Row> all =
        [
            RawFloor("raw Unix socket, blocking (floor)", "unix", FloorKind.Blocking),
            RawFloor("raw Unix socket, busy-poll (floor)", "unix", FloorKind.BusyPoll),
            TransportOnly("transport only, unix:// (IDuplexPipe, raw frames)", "unix", dedicatedReceiveThread: true),
            TransportOnly("transport only, unix://, async receive (UseDedicatedReceiveThread = false)", "unix", dedicatedReceiveThread: false),
            new() { Name = "Rpc binary, unix://", Scenario = Scenarios.RpcBinary, Transport = "unix", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.Binary) },
            new() { Name = "Rpc binary, unix://, RpcClient proxy (reconnecting client)", Scenario = Scenarios.RpcBinary, Transport = "unix", Floor = FloorKind.None, Connect = RpcClient.ConnectReconnectingAsync },
            new() { Name = "Rpc JSON-RPC, unix://", Scenario = Scenarios.RpcJsonRpc, Transport = "unix", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.JsonRpc) },
            new() { Name = "StreamJsonRpc 2.26, MessagePack + length header over pipes, Unix socket", Scenario = Scenarios.StreamJsonRpc, Transport = "unix", Floor = FloorKind.None, Connect = e => Task.FromResult<BenchClient>(new StreamJsonRpcClient(e)) },
            new() { Name = "gRPC (Grpc.AspNetCore on Kestrel + Grpc.Net.Client), Unix socket", Scenario = Scenarios.Grpc, Transport = "unix", Floor = FloorKind.None, Connect = e => Task.FromResult<BenchClient>(new GrpcClient(e)) },
            RawFloor("raw named pipe (NamedPipe*Stream, a Unix socket), blocking (floor)", "pipe", FloorKind.Blocking),
            RawFloor("raw named pipe (its Unix socket, non-blocking), busy-poll (floor)", "pipe", FloorKind.BusyPoll),
            TransportOnly("transport only, pipe:// (IDuplexPipe, raw frames)", "pipe", dedicatedReceiveThread: true),
            new() { Name = "Rpc binary, pipe://", Scenario = Scenarios.RpcBinary, Transport = "pipe", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.Binary) },
            RawFloor("raw anonymous pipes to a child process, blocking (floor)", "child", FloorKind.Blocking, () => LaunchAnonymousPipeFloor(busyPoll: false)),
            RawFloor("raw anonymous pipes to a child process, busy-poll (floor)", "child", FloorKind.BusyPoll, () => LaunchAnonymousPipeFloor(busyPoll: true)),
            new() { Name = "Rpc binary, RpcChildProcess (anonymous pipes)", Scenario = "serve-child", Transport = "child", Floor = FloorKind.None, Connect = _ => RpcClient.StartChildAsync() },
            RawFloor("shared memory, spin ≤20 µs then futex (floor)", "shm", FloorKind.Blocking),
            RawFloor("shared memory, both sides busy-spin (floor)", "shm", FloorKind.BusyPoll),
            TransportOnly("transport only, shm:// (IDuplexPipe, raw frames)", "shm", dedicatedReceiveThread: true),
            new() { Name = "Rpc binary, shm://", Scenario = Scenarios.RpcBinary, Transport = "shm", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.Binary) },
            RawFloor("raw TCP loopback, blocking (floor)", "tcp", FloorKind.Blocking),
            RawFloor("raw TCP loopback, busy-poll (floor)", "tcp", FloorKind.BusyPoll),
            TransportOnly("transport only, tcp:// (IDuplexPipe, raw frames)", "tcp", dedicatedReceiveThread: true),
            new() { Name = "Rpc binary, tcp://127.0.0.1", Scenario = Scenarios.RpcBinary, Transport = "tcp", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.Binary) },
            RawFloor("raw TLS (SslStream) over TCP loopback, blocking (floor)", "tls", FloorKind.Blocking),
            RawFloor("raw TLS (SslStream) over TCP loopback, busy-poll (floor)", "tls", FloorKind.BusyPoll),
            TransportOnly("transport only, tls:// (IDuplexPipe, raw frames)", "tls", dedicatedReceiveThread: true),
            new() { Name = "Rpc binary, tls://127.0.0.1", Scenario = Scenarios.RpcBinary, Transport = "tls", Floor = FloorKind.None, Connect = e => RpcClient.ConnectAsync(e, RpcProtocol.Binary) },
        ];
        if (string.IsNullOrEmpty(filter))
        {
            return all;
        }

        // A filtered run keeps both floors of each selected row's transport, so its ratios still mean something.
        var selected = all.Where(r => r.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
        var transports = selected.Select(r => r.Transport).ToHashSet();
        return [.. all.Where(r => selected.Contains(r) || (r.IsFloor && transports.Contains(r.Transport)))];
    }

    /// <summary>A raw floor row; <paramref name="launch"/> for the anonymous pipes, whose client starts its server.</summary>
    private static Row RawFloor(string name, string transport, FloorKind floor, Func<(ChildServer? Server, BenchClient Client)>? launch = null)
    {
        var busyPoll = floor == FloorKind.BusyPoll;
        return new()
        {
            Name = name,
            Scenario = busyPoll ? Scenarios.RawBusyPoll : Scenarios.Raw,
            Transport = transport,
            Floor = floor,
            Connect = e => Task.FromResult<BenchClient>(RawClient.Connect(e, busyPoll)),
            Launch = launch,
        };
    }

    private static Row TransportOnly(string name, string transport, bool dedicatedReceiveThread) => new()
    {
        Name = name,
        Scenario = dedicatedReceiveThread ? Scenarios.Transport : Scenarios.TransportAsync,
        Transport = transport,
        Floor = FloorKind.None,
        Connect = e => TransportClient.ConnectAsync(e, dedicatedReceiveThread),
    };

    private static byte[] MakePayload(int size, int seed)
    {
        var payload = new byte[size];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    private static void Start(Row row, string directory)
    {
        try
        {
            if (row.Launch is not null)
            {
                (row.Server, row.Client) = row.Launch();
                Log($"{row.Name}: server pid {row.ServerProcessId}");
                return;
            }

            if (row.Transport == "child")
            {
                // RpcChildProcess starts the server itself (this executable, `serve-child`).
                row.Client = Wait(Task.Run(() => row.Connect(string.Empty)), TimeSpan.FromSeconds(60), "start child");
                Log($"{row.Name}: server pid {row.ServerProcessId}");
                return;
            }

            var endpoint = EndpointOf(row, directory);
            row.Server = ChildServer.Start(row.Scenario, endpoint, TimeSpan.FromSeconds(60));
            Log($"{row.Name}: server pid {row.Server.ProcessId} on {row.Server.Endpoint}");
            var connect = Task.Run(() => row.Connect(row.Server.Endpoint));
            row.Client = Wait(connect, TimeSpan.FromSeconds(30), "connect");
        }
        catch (Exception exception)
        {
            row.Skipped = Describe(exception);
            Log($"{row.Name}: skipped: {row.Skipped}");
        }
    }

    /// <summary>Names unique to this run: a socket in the run's temp dir, a pipe or shm name carrying our pid.</summary>
    private static string EndpointOf(Row row, string directory)
    {
        var unique = string.Create(CultureInfo.InvariantCulture, $"rpcbench-{Environment.ProcessId}-{row.Scenario}");
        return row.Transport switch
        {
            "unix" => "unix://" + Path.Combine(directory, row.Scenario + ".sock"),
            "tcp" => "tcp://127.0.0.1:0",
            "tls" => "tls://127.0.0.1:0",
            "pipe" => "pipe://" + unique,
            "shm" when row.IsFloor => BenchSockets.ShmFloorScheme + "/dev/shm/" + unique,
            "shm" => "shm://" + unique,
            _ => throw new ArgumentException($"Unknown transport '{row.Transport}'.", nameof(row)),
        };
    }

    /// <summary>The anonymous-pipe floors: two inheritable pipes, this executable as the child (<c>serve raw[-busy] anon-floor:&lt;r&gt;:&lt;w&gt;</c>).</summary>
    private static (ChildServer? Server, BenchClient Client) LaunchAnonymousPipeFloor(bool busyPoll)
    {
        var toChild = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        var fromChild = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
        try
        {
            var endpoint = BenchSockets.AnonymousFloorScheme + toChild.GetClientHandleAsString() + ":" + fromChild.GetClientHandleAsString();
            var server = ChildServer.Start(busyPoll ? Scenarios.RawBusyPoll : Scenarios.Raw, endpoint, TimeSpan.FromSeconds(60), afterStart: () =>
            {
                // The child has its copies: close ours, so the child sees end-of-stream when we close, and later children do not inherit them.
                toChild.DisposeLocalCopyOfClientHandle();
                fromChild.DisposeLocalCopyOfClientHandle();
            });
            return (server, new RawClient(busyPoll ? new BusyPollPipeChannel(fromChild, toChild, bounded: true) : new StreamChannel(fromChild, toChild), busyPoll));
        }
        catch
        {
            toChild.Dispose();
            fromChild.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One open, idle connection: CPU time (utime + stime from /proc/&lt;pid&gt;/stat) of the client process and of the
    /// server process over <paramref name="window"/>, after a forced GC and 1 s to settle. Every other row is idle too
    /// (blocked in a receive), so the client figure is an upper bound for this connection.
    /// </summary>
    private static void MeasureIdle(Row row, TimeSpan window)
    {
        var serverPid = row.ServerProcessId ?? throw new InvalidOperationException("No server pid.");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Thread.Sleep(1000);
        var clientBefore = CpuTicks(Environment.ProcessId);
        var serverBefore = CpuTicks(serverPid);
        var clock = Stopwatch.StartNew();
        Thread.Sleep(window);
        var clientAfter = CpuTicks(Environment.ProcessId);
        var serverAfter = CpuTicks(serverPid);
        var seconds = clock.Elapsed.TotalSeconds;

        // USER_HZ is 100 on Linux: one tick is 10 ms.
        row.IdleCpu = ((clientAfter - clientBefore) / 100.0 / seconds * 100, (serverAfter - serverBefore) / 100.0 / seconds * 100, seconds);
        Log(string.Create(CultureInfo.InvariantCulture, $"{row.Name}: idle CPU over {seconds:0.0} s: client {row.IdleCpu.Value.Client:0.00}%, server {row.IdleCpu.Value.Server:0.00}% of a core"));
    }

    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // Fields 14 (utime) and 15 (stime), counted from 1 with field 3 (state) first after the ')'.
        return long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture);
    }

    private static void Stop(Row row)
    {
        if (row.Client is not null)
        {
            try
            {
                Wait(Task.Run(async () =>
                {
                    await row.Client.DisposeAsync();
                    return 0;
                }), TimeSpan.FromSeconds(10), "dispose");
            }
            catch (Exception exception)
            {
                Log($"{row.Name}: dispose failed: {Describe(exception)}");
            }
        }

        row.Server?.Dispose();

        // Servers end with Environment.Exit: remove the files a pipe:// or shm:// listener (or the shm floor) may leave.
        var unique = string.Create(CultureInfo.InvariantCulture, $"rpcbench-{Environment.ProcessId}-{row.Scenario}");
        foreach (var leftover in new[] { Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + unique), "/dev/shm/rpc-" + unique + ".sock", "/dev/shm/" + unique })
        {
            if ((row.Transport is "pipe" or "shm") && File.Exists(leftover))
            {
                try
                {
                    File.Delete(leftover);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static void Step(Row row, string what, Action step)
    {
        if (!row.Active)
        {
            return;
        }

        try
        {
            step();
        }
        catch (Exception exception)
        {
            row.Skipped = $"{what} failed: {Describe(exception)}";
            Log($"{row.Name}: {row.Skipped}");
            if (row.Server is { HasExited: true } server)
            {
                Log($"{row.Name}: server stderr: {server.StandardError}");
            }
        }
    }

    private static void WarmUp(Row row, BenchSettings settings, byte[] payload64K, byte[] payload1M)
    {
        var client = row.Client!;
        var scratch = new long[512];
        var deadline = Stopwatch.StartNew();

        // Long enough in time for tiered compilation (call counting, then a 100 ms delay) to reach tier 1 on both sides.
        while (deadline.Elapsed < settings.WarmupTime)
        {
            Run(() => client.SmallAsync(scratch, 0, scratch.Length), "small");
        }

        Run(() => client.InFlightAsync(settings.InFlightCallsPerRound / 2, BenchSettings.InFlight), "in flight");
        Run(() => client.EchoAsync(payload64K, scratch, 0, 30), "64 KiB echo");
        Run(() => client.EchoAsync(payload1M, scratch, 0, 8), "1 MiB echo");
        Log(string.Create(CultureInfo.InvariantCulture, $"{row.Name}: warmed up in {deadline.Elapsed.TotalSeconds:0.0} s"));
    }

    private static void Measure(Row row, BenchSettings settings, byte[] payload64K, byte[] payload1M)
    {
        var client = row.Client!;

        // Small calls, 1 in flight: latency per call, throughput from the loop's total time, allocations per call.
        var (array, offset) = row.Small.Reserve(settings.SmallCallsPerRound);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        Run(() => client.SmallAsync(array, offset, settings.SmallCallsPerRound), "small");
        var elapsed = Stopwatch.GetTimestamp() - start;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        row.SmallElapsedTicks += elapsed;
        row.AllocatedBytes += allocated;
        row.AllocatedCalls += settings.SmallCallsPerRound;
        row.RoundSmallP50.Add(Samples.Percentile(array.AsSpan(offset, settings.SmallCallsPerRound), 50));

        // 64 in flight.
        start = Stopwatch.GetTimestamp();
        Run(() => client.InFlightAsync(settings.InFlightCallsPerRound, BenchSettings.InFlight), "in flight");
        elapsed = Stopwatch.GetTimestamp() - start;
        row.InFlightCallsPerSecond.Add(settings.InFlightCallsPerRound * (double)Stopwatch.Frequency / elapsed);

        // Large payloads, 1 in flight.
        (array, offset) = row.Echo64K.Reserve(settings.Echo64KPerRound);
        Run(() => client.EchoAsync(payload64K, array, offset, settings.Echo64KPerRound), "64 KiB echo");
        (array, offset) = row.Echo1M.Reserve(settings.Echo1MPerRound);
        Run(() => client.EchoAsync(payload1M, array, offset, settings.Echo1MPerRound), "1 MiB echo");
    }

    /// <summary>
    /// Runs one measurement on a thread-pool thread while this (main) thread blocks, bounded: the measurement's first call
    /// starts on the pool, and Rpc's inline continuations then run on the connection's receive thread as designed.
    /// </summary>
    private static void Run(Func<Task> work, string what) =>
        Wait(Task.Run(async () =>
        {
            await work();
            return 0;
        }), StepTimeout, what);

    private static T Wait<T>(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            if (!task.Wait(timeout))
            {
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"{what} did not finish within {timeout.TotalSeconds:0} s."));
            }
        }
        catch (AggregateException exception) when (exception.InnerExceptions.Count == 1)
        {
            throw exception.InnerExceptions[0];
        }

        return task.Result;
    }

    private static string Describe(Exception exception)
    {
        var text = new StringBuilder($"{exception.GetType().Name}: {exception.Message}");
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text.Append(CultureInfo.InvariantCulture, $" ← {inner.GetType().Name}: {inner.Message}");
        }

        return text.ToString().ReplaceLineEndings(" ");
    }

    public static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}

/// <summary>A server child process (this executable with <c>serve</c>), stopped by closing its stdin, killed if need be.</summary>
internal sealed class ChildServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _standardError = new();

    private ChildServer(Process process, string endpoint)
    {
        _process = process;
        Endpoint = endpoint;
    }

    public string Endpoint { get; private set; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public string StandardError
    {
        get
        {
            lock (_standardError)
            {
                return _standardError.ToString().ReplaceLineEndings(" ");
            }
        }
    }

    public static ChildServer Start(string scenario, string endpoint, TimeSpan readyTimeout, Action? afterStart = null)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Unknown process path.");
        var start = new ProcessStartInfo(self)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Started as `dotnet Rpc.Benchmarks.dll`: run the same assembly again.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildServer).Assembly.Location);
        }

        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(scenario);
        start.ArgumentList.Add(endpoint);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("The server did not start.");
        }
        finally
        {
            afterStart?.Invoke();
        }

        var child = new ChildServer(process, endpoint);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (child._standardError)
                {
                    child._standardError.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(readyTimeout);
            while (true)
            {
                var line = process.StandardOutput.ReadLineAsync(timeout.Token).AsTask().GetAwaiter().GetResult()
                    ?? throw new InvalidOperationException($"The '{scenario}' server exited before it was ready: {WaitForStandardError(child)}");
                if (line.StartsWith(ServerProgram.ReadyPrefix, StringComparison.Ordinal))
                {
                    child.Endpoint = line[ServerProgram.ReadyPrefix.Length..].Trim();
                    return child;
                }
            }
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(3)))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(TimeSpan.FromSeconds(5));
                }
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static string WaitForStandardError(ChildServer child)
    {
        child._process.WaitForExit(TimeSpan.FromSeconds(5));
        return child.StandardError;
    }
}
