using System;
using System.Threading.Tasks;
using Rpc;
using Rpc.Tests.WorkQueues;

// Usage: Rpc.WorkerHost --endpoint <hub worker endpoint> [--log <path>] [--hang]
// Prints "READY <pid>" once attached, then serves until the hub closes the connection, stdin closes, or it is killed.
string? endpoint = null;
string? log = null;
var hang = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--endpoint":
            endpoint = args[++i];
            break;
        case "--log":
            log = args[++i];
            break;
        case "--hang":
            hang = true;
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

if (endpoint is null)
{
    Console.Error.WriteLine("--endpoint is required");
    return 2;
}

await using var connection = await RpcWorkQueue.ConnectWorkerAsync<IJobs>(endpoint, new LoggingJobs(Environment.ProcessId, log, hang));
Console.WriteLine($"READY {Environment.ProcessId}");

// The parent closes our stdin to stop us; its death closes it too, so no worker outlives its test.
var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
await Task.WhenAny(stdinClosed, connection.Completion);
return 0;
