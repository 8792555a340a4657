using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Calculator;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Rpc;
using Rpc.Samples;

// Usage: Observability demo         calls a calculator server in a second process; both print their spans.
//        Observability serve <endpoint>   the server: prints READY, serves one client, exits when it disconnects.
return await CommandLine.RunAsync("Observability", () => args switch
{
    ["demo"] => DemoAsync(),
    ["serve", var endpoint] => ServeAsync(endpoint),
    _ => Task.FromResult(Usage()),
});

static int Usage()
{
    Console.Error.WriteLine("usage: Observability demo | Observability serve <endpoint>");
    return CommandLine.UsageError;
}

static async Task<int> DemoAsync()
{
    // The three lines that wire Rpc into OpenTelemetry (here with the console exporter; AddMeter("Rpc") for metrics).
    var source = new ActivitySource("Observability");
    using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc", source.Name).AddConsoleExporter().Build();

    var endpoint = $"unix://{Path.Combine(Path.GetTempPath(), $"observability-{Environment.ProcessId}.sock")}";
    var server = SelfProcess.Start(["serve", endpoint], redirectOutput: true);
    try
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line && line != "READY")
        {
        }

        var forwarding = Task.Run(async () =>
        {
            while (await server.StandardOutput.ReadLineAsync() is { } line)
            {
                Console.WriteLine($"[server] {line}");
            }
        });

        await using (var connection = await RpcConnection.ConnectAsync(endpoint, cancellationToken: timeout.Token))
        {
            var calculator = connection.CreateProxy<ICalculator>();
            using var demo = source.StartActivity("demo");
            Console.WriteLine($"[client] trace id {demo?.TraceId}: the client's and the server's spans below share it");
            Console.WriteLine($"[client] 40 + 2 = {await calculator.AddAsync(40, 2, timeout.Token)}");
            try
            {
                await calculator.DivideAsync(1, 0);
            }
            catch (RemoteInvocationException exception)
            {
                Console.WriteLine($"[client] 1 / 0 failed on the server: {exception.RemoteTypeName} (its span has error.type)");
            }
        }

        // The server exits once our connection has closed; its last spans arrive before its output ends.
        await server.WaitForExitAsync(timeout.Token);
        await forwarding.WaitAsync(timeout.Token);
        return server.ExitCode;
    }
    finally
    {
        SelfProcess.KillAll([server]);
    }
}

static async Task<int> ServeAsync(string endpoint)
{
    using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc").AddConsoleExporter().Build();
    var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    await using var server = new RpcServer().AddService<ICalculator>(new CalculatorService());
    server.ConnectionAccepted += connection => connection.Completion.ContinueWith(_ => disconnected.TrySetResult(), TaskScheduler.Default);
    await server.ListenAsync(endpoint);
    Console.WriteLine("READY");
    await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(60));
    return 0;
}
