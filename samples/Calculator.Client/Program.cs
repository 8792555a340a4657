using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Calculator;
using Rpc;
using Rpc.Samples;

// The demo. Usage: Calculator.Client [--server <path to Calculator.Server(.dll)>] [--endpoint <endpoint> --format binary|json]
// Without --endpoint it starts the server as a child process listening on a Unix socket, TCP, a named pipe and shared
// memory, and shows the same calls over each (a streamed result, a cancelled call and a remote exception over the first),
// then the other protocol on the first endpoint (an endpoint serves both; JSON-RPC is skipped in a NativeAOT build), then
// starts a second server as an RpcChildProcess connected over anonymous pipes. It exits non-zero if anything is not as
// expected: 1 (with one line on stderr when the server cannot be reached), 2 for a bad command line.
return await CommandLine.RunAsync("Calculator.Client", () => RunAsync(args));

static async Task<int> RunAsync(string[] args)
{
    string? serverPath = null;
    string? endpoint = null;
    var protocol = RpcProtocol.Binary;
    for (var i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--server" when i + 1 < args.Length:
                serverPath = args[++i];
                break;
            case "--endpoint" when i + 1 < args.Length:
                endpoint = args[++i];
                break;
            case "--format" when i + 1 < args.Length:
                protocol = args[++i] == "json" ? JsonRpc() : RpcProtocol.Binary;
                break;
            default:
                Console.Error.WriteLine("usage: Calculator.Client [--server <path>] [--endpoint <endpoint> [--format binary|json]]");
                return CommandLine.UsageError;
        }
    }

    var options = new RpcConnectionOptions { Protocol = protocol };
    if (endpoint is not null)
    {
        await RunOverEndpointAsync(endpoint, options, showEverything: true);
        return 0;
    }

    // One server process, four transports: the endpoint string is the only difference the client sees.
    var name = $"rpc-calc-{Environment.ProcessId}";
    await using var server = await ChildServer.StartAsync(
        serverPath,
        [$"unix://{Path.Combine(Path.GetTempPath(), name + ".sock")}", "tcp://127.0.0.1:0", $"pipe://{name}", $"shm://{name}"]);
    Console.WriteLine($"started server process {server.ProcessId}");
    for (var i = 0; i < server.Endpoints.Count; i++)
    {
        await RunOverEndpointAsync(server.Endpoints[i], options, showEverything: i == 0);
    }

    // The same endpoint serves the other protocol too: the server tells them apart by the client's first byte.
    // JSON-RPC runs on StreamJsonRpc, which a NativeAOT build cannot carry.
    if (protocol != RpcProtocol.Binary || System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
    {
        var otherProtocol = protocol == RpcProtocol.Binary ? JsonRpc() : RpcProtocol.Binary;
        await RunOverEndpointAsync(server.Endpoints[0], new RpcConnectionOptions { Protocol = otherProtocol }, showEverything: false);
    }

    var exitCode = await server.StopAsync();
    Console.WriteLine($"server exited with code {exitCode}");

    // Python's Process + Pipe, typed: the child serves ICalculator over two inherited anonymous pipes.
    var (fileName, arguments) = ChildServer.Command(serverPath);
    var childOptions = new RpcChildProcessOptions { FileName = fileName, Connection = options };
    foreach (var argument in arguments.Append("--serve-parent"))
    {
        childOptions.Arguments.Add(argument);
    }

    await using (var child = await RpcChildProcess.StartAsync<ICalculator>(childOptions))
    {
        await RunDemoAsync($"child process {child.ProcessId} over anonymous pipes", child.Proxy, showEverything: false);
    }

    return exitCode;
}

static async Task RunOverEndpointAsync(string endpoint, RpcConnectionOptions options, bool showEverything)
{
    await using var connection = await RpcConnection.ConnectAsync(endpoint, options);
    await RunDemoAsync($"{endpoint} ({options.Protocol})", connection.CreateProxy<ICalculator>(), showEverything);
}

static async Task RunDemoAsync(string label, ICalculator calculator, bool showEverything)
{
    Console.WriteLine();
    Console.WriteLine($"== {label} ==");

    var sum = await calculator.AddAsync(40, 2);
    Expect(sum == 42, $"AddAsync(40, 2) = {sum}");

    var statistics = await calculator.SummarizeAsync([1.5, 2.5, 9]);
    Expect(statistics == new Statistics(3, 13 / 3.0, 1.5, 9), $"SummarizeAsync([1.5, 2.5, 9]) = {statistics}");

    // Warm up first (tiered JIT), then time each call: the median says what a call costs on this machine right now.
    const int Calls = 10_000;
    for (var i = 0; i < Calls; i++)
    {
        await calculator.AddAsync(i, 1);
    }

    var samples = new double[Calls];
    for (var i = 0; i < Calls; i++)
    {
        var start = Stopwatch.GetTimestamp();
        await calculator.AddAsync(i, 1);
        samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    Array.Sort(samples);
    Console.WriteLine($"   {Calls:N0} sequential AddAsync calls: median {samples[Calls / 2]:F1} µs, 99th percentile {samples[Calls * 99 / 100]:F1} µs");
    if (!showEverything)
    {
        return;
    }

    Console.Write("   FibonacciAsync(12) streams:");
    var streamed = 0;
    await foreach (var number in calculator.FibonacciAsync(12, delayMilliseconds: 20))
    {
        Console.Write($" {number}");
        streamed++;
    }

    Console.WriteLine();
    Expect(streamed == 12, $"received {streamed} streamed items");

    using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
    var stopwatch = Stopwatch.StartNew();
    try
    {
        await calculator.SlowSquareAsync(12, delayMilliseconds: 10_000, cancellation.Token);
        Expect(false, "SlowSquareAsync should have been cancelled");
    }
    catch (OperationCanceledException)
    {
        Expect(stopwatch.ElapsedMilliseconds < 5_000, $"SlowSquareAsync(12, 10 s) cancelled after {stopwatch.ElapsedMilliseconds} ms");
    }

    try
    {
        await calculator.DivideAsync(1, 0);
        Expect(false, "DivideAsync(1, 0) should have thrown");
    }
    catch (RemoteInvocationException error)
    {
        Expect(error.RemoteTypeName == "System.DivideByZeroException", $"DivideAsync(1, 0) threw remotely: {error.RemoteTypeName}: {error.Message} (code {(int)error.ErrorCode})");
    }

    Expect(await calculator.DivideAsync(1, 4) == 0.25, "the connection is still usable after the remote exception: DivideAsync(1, 4) = 0.25");
}

static void Expect(bool condition, string message)
{
    Console.WriteLine($"   {(condition ? "ok  " : "FAIL")} {message}");
    if (!condition)
    {
        Environment.Exit(1);
    }
}

// JSON-RPC runs on StreamJsonRpc and needs run-time code generation: a NativeAOT build speaks binary only.
[System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification = "Checked: throws where dynamic code is not supported.")]
[System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "JSON-RPC is opt-in and documented as not trim-safe; the sample is trimmed only as a NativeAOT build, which never gets here.")]
static RpcProtocol JsonRpc() =>
    System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported
        ? RpcProtocol.JsonRpc
        : throw new PlatformNotSupportedException("JSON-RPC runs on StreamJsonRpc, which a NativeAOT build cannot carry: use --format binary.");
