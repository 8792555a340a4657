using System;
using System.Threading.Tasks;
using Rpc;
using Rpc.Evolution;

// Compiled into tests/Evolution/V1 and V2: the same host serves whichever build of IInventory it was compiled with.
// Usage: Rpc.Evolution.V<n> --endpoint <endpoint> [--endpoint <endpoint>…]
//   Serves IInventory with the binary protocol and with JSON-RPC on each endpoint's own copy (a server speaks one
//   protocol): prints "READY binary <bound endpoint>" and "READY json <bound endpoint>" per endpoint, then serves until
//   stdin closes or the process is killed.
var endpoints = new System.Collections.Generic.List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--endpoint" && i + 1 < args.Length)
    {
        endpoints.Add(args[++i]);
    }
    else
    {
        Console.Error.WriteLine($"unknown argument {args[i]}");
        return 2;
    }
}

await using var binary = new RpcServer().AddService<IInventory>(new Inventory());
await using var json = new RpcServer(new RpcServerOptions { Protocols = [RpcProtocol.JsonRpc] }).AddService<IInventory>(new Inventory());
foreach (var endpoint in endpoints)
{
    Console.WriteLine($"READY binary {await binary.ListenAsync(endpoint)}");
    Console.WriteLine($"READY json {await json.ListenAsync(Distinct(endpoint))}");
}

// The test closes our stdin to ask for a graceful stop; its crash closes it too, so no orphans.
await Task.Run(() => Console.In.ReadToEnd());
await binary.StopAsync();
await json.StopAsync();
return 0;

// A Unix socket path can be bound once; the JSON-RPC server gets a sibling path. TCP port 0 binds a fresh port anyway.
static string Distinct(string endpoint) => endpoint.StartsWith("unix://", StringComparison.Ordinal) ? endpoint + ".json" : endpoint;
