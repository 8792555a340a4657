using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Calculator;
using Rpc;
using Rpc.Samples;

// Usage: Calculator.Server --endpoint unix:///tmp/calc.sock [--endpoint tcp://127.0.0.1:5000]
//        Calculator.Server --serve-parent   (as a child started with RpcChildProcess)
// Each endpoint serves both protocols (binary and JSON-RPC 2.0; binary only in a NativeAOT build): the client chooses.
// Prints "listening on <endpoint>" for each endpoint, then serves until Ctrl+C, SIGTERM, or its stdin closes when
// started with --stop-on-stdin-close (how the demo client runs it, so a crashed parent never leaves it behind).
// A bad command line exits 2, an endpoint it cannot listen on 1, each with one line on stderr.
return await CommandLine.RunAsync("Calculator.Server", () => RunAsync(args));

static async Task<int> RunAsync(string[] args)
{
    var endpoints = new List<string>();
    var stopOnStdinClose = false;
    for (var i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--endpoint" when i + 1 < args.Length:
                endpoints.Add(args[++i]);
                break;
            case "--stop-on-stdin-close":
                stopOnStdinClose = true;
                break;
            case "--serve-parent":
                // Started by RpcChildProcess: serve the parent over the inherited pipes until it goes away.
                await RpcChildProcess.ServeParentAsync<ICalculator>(new CalculatorService());
                return 0;
            default:
                Console.Error.WriteLine("usage: Calculator.Server --endpoint <unix:///path|tcp://host:port>... [--stop-on-stdin-close]");
                return CommandLine.UsageError;
        }
    }

    if (endpoints.Count == 0)
    {
        endpoints.Add("unix:///tmp/calc.sock");
    }

    var options = new RpcServerOptions();
    if (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
    {
        AddJsonRpc(options);
    }

    await using var server = new RpcServer(options).AddService<ICalculator>(new CalculatorService());
    foreach (var endpoint in endpoints)
    {
        Console.WriteLine($"listening on {await server.ListenAsync(endpoint)} ({string.Join(" and ", options.Protocols)})");
    }

    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
    {
        context.Cancel = true;
        stop.Cancel();
    });
    if (stopOnStdinClose)
    {
        _ = Task.Run(() =>
        {
            Console.In.ReadToEnd();
            stop.Cancel();
        });
    }

    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }

    await server.StopAsync();
    Console.WriteLine("stopped");
    return 0;
}

// JSON-RPC runs on StreamJsonRpc, which a NativeAOT build cannot carry: there the server speaks binary only.
[System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode", Justification = "Called only where dynamic code is supported.")]
[System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "JSON-RPC is opt-in and documented as not trim-safe; the sample is trimmed only as a NativeAOT build, which never calls this.")]
static void AddJsonRpc(RpcServerOptions options) => options.Protocols.Add(RpcProtocol.JsonRpc);
