using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Tests.WorkQueues;

// Usage: Rpc.WorkerHost --endpoint <hub worker endpoint> [--log <path>] [--hang] [--tls-ca <file>] [--trace-file <path>]
//   A worker: prints "READY <pid>" once attached, then serves until the hub closes the connection, stdin closes, or it is killed.
//   --trace-file appends each span of the "Rpc" source the process ends to the file (tests/Shared/SpanFile.cs).
// Or:    Rpc.WorkerHost --child [--log <path>] [--hang]
//   A worker started by the hub's process as an RpcChildProcess: serves IJobs to its parent until the parent closes the
//   connection or dies (it neither reads stdin nor writes stdout: they are the parent's).
// Or:    Rpc.WorkerHost --produce <hub producer endpoint> <count> [--tls-ca <file>]
//   A producer: runs jobs 0..count-1 (IJobs.RunAsync, never re-run) through the hub, waits for all (JoinAsync), prints
//   "RESULT <id> <worker pid>" per job in id order and exits 0; any failure exits non-zero.
string? endpoint = null;
string? log = null;
string? producerEndpoint = null;
var count = 0;
var hang = false;
var child = false;
var options = new RpcConnectionOptions();
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
        case "--trace-file":
            _ = Rpc.Tests.SpanFile.Record(args[++i]);
            break;
        case "--hang":
            hang = true;
            break;
        case "--child":
            child = true;
            break;
        case "--produce":
            producerEndpoint = args[++i];
            count = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--tls-ca":
            // The certificate of the CA a tls:// hub's certificate is issued by (the tests' private CA).
            options.Transport.Tls = new Rpc.Transports.TlsOptions
            {
                TrustedRoots = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(args[++i])],
            };
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

var jobs = new LoggingJobs(Environment.ProcessId, log, hang);
if (child)
{
    await RpcChildProcess.ServeParentAsync<IJobs>(jobs);
    return 0;
}

if (producerEndpoint is not null)
{
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    await using var hub = await RpcConnection.ConnectAsync(producerEndpoint, options: options, cancellationToken: timeout.Token);
    var producer = RpcWorkQueue.CreateProducer<IJobs>(hub);
    var results = await Task.WhenAll(Enumerable.Range(0, count).Select(id => producer.Proxy.RunAsync(id, 2, timeout.Token)));
    await producer.JoinAsync(timeout.Token);
    foreach (var result in results)
    {
        Console.WriteLine($"RESULT {result.Id} {result.WorkerId}");
    }

    return 0;
}

if (endpoint is null)
{
    Console.Error.WriteLine("--endpoint, --child or --produce is required");
    return 2;
}

await using var connection = await RpcWorkQueue.ConnectWorkerAsync<IJobs>(endpoint, jobs, options);
Console.WriteLine($"READY {Environment.ProcessId}");

// The parent closes our stdin to stop us; its death closes it too, so no worker outlives its test.
var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
await Task.WhenAny(stdinClosed, connection.Completion);
return 0;
