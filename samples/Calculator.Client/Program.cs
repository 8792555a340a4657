using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Calculator;
using Rpc;

// The demo. Usage: Calculator.Client [--server <path to Calculator.Server(.dll)>] [--endpoint <endpoint> --format binary|json]
// Without --endpoint it starts the server as a child process on a Unix socket and a TCP port, then shows calls over
// both, a streamed result, a cancelled call and a remote exception. It exits non-zero if anything is not as expected.
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
            protocol = args[++i] == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
            break;
        default:
            Console.Error.WriteLine("usage: Calculator.Client [--server <path>] [--endpoint <endpoint> [--format binary|json]]");
            return 2;
    }
}

var options = new RpcConnectionOptions { Protocol = protocol };
if (endpoint is not null)
{
    await RunDemoAsync(endpoint, options, showEverything: true);
    return 0;
}

var socketPath = Path.Combine(Path.GetTempPath(), $"rpc-calc-{Environment.ProcessId}.sock");
await using var server = await ChildServer.StartAsync(serverPath, [$"unix://{socketPath}", "tcp://127.0.0.1:0"]);
Console.WriteLine($"started server process {server.ProcessId}");
await RunDemoAsync(server.Endpoints[0], options, showEverything: true);
await RunDemoAsync(server.Endpoints[1], options, showEverything: false);
var exitCode = await server.StopAsync();
Console.WriteLine($"server exited with code {exitCode}");
return exitCode;

static async Task RunDemoAsync(string endpoint, RpcConnectionOptions options, bool showEverything)
{
    Console.WriteLine();
    Console.WriteLine($"== {endpoint} ==");
    await using var connection = await RpcConnection.ConnectAsync(endpoint, options);
    var calculator = connection.CreateProxy<ICalculator>();

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
