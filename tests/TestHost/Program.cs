using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Tests;
using Rpc.Tests.Groups;

// Usage: Rpc.TestHost --endpoint <endpoint> [--endpoint <endpoint>…] [--protocol binary|json] [--stack-traces] [--tls-pfx <file>]
//                     [--frame-timeout <milliseconds>] [--trace-file <path>]
//   Prints "READY <bound endpoint>" per endpoint, then serves until stdin closes or the process is killed. Its endpoints
//   serve both protocols; --protocol restricts them to one. --trace-file appends each span of the "Rpc" source the
//   process ends to the file, one line each (tests/Shared/SpanFile.cs). Besides ITestService the server publishes: IFeed
//   (clients join topics, each an RpcGroup<IGroupMember>) and IFeedControl (a test broadcasts to a topic, counts its members).
// Or:    Rpc.TestHost --subscribe <endpoint> --topic <topic> [--protocol binary|json] [--tls-ca <file>]
//   A subscriber: connects to a publisher serving IFeed, serves IGroupMember there (its id is this process's id), subscribes
//   to the topic, prints "READY <pid>", then runs until stdin closes, the publisher goes away or the process is killed.
//   With "--subscribe parent" it does the same with the parent that started it as an RpcChildProcess (and prints nothing).
var options = new RpcServerOptions { Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc] };
var endpoints = new System.Collections.Generic.List<string>();
string? publisher = null;
var topic = "ticks";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--endpoint":
            endpoints.Add(args[++i]);
            break;
        case "--protocol":
            // The subscriber speaks it; the server serves only it.
            options.Connection.Protocol = args[++i] == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
            options.Protocols = [options.Connection.Protocol];
            break;
        case "--frame-timeout":
            options.Connection.FrameTimeout = TimeSpan.FromMilliseconds(int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture));
            break;
        case "--trace-file":
            _ = SpanFile.Record(args[++i]);
            break;
        case "--stack-traces":
            options.Connection.IncludeExceptionStackTraces = true;
            break;
        case "--tls-pfx":
            // A PKCS#12 file with the server certificate and key, for tls:// endpoints (the tests make a private CA).
            options.Connection.Transport.Tls = new Rpc.Transports.TlsOptions
            {
                ServerCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(args[++i], password: null),
            };
            break;
        case "--tls-ca":
            // The certificate of the CA a tls:// publisher's certificate is issued by (the tests' private CA).
            options.Connection.Transport.Tls = new Rpc.Transports.TlsOptions
            {
                TrustedRoots = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(args[++i])],
            };
            break;
        case "--subscribe":
            publisher = args[++i];
            break;
        case "--topic":
            topic = args[++i];
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

if (publisher is not null)
{
    return await SubscribeAsync(publisher, topic, options.Connection);
}

var topics = new ConcurrentDictionary<string, RpcGroup<IGroupMember>>();
await using var server = new RpcServer(options)
    .AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()))
    .AddService<ISharedHandleService>(new SharedHandleService())
    .AddService<IFeed>(connection => new TopicFeed(connection, topics))
    .AddService<IFeedControl>(new TopicControl(topics));
foreach (var endpoint in endpoints)
{
    Console.WriteLine($"READY {await server.ListenAsync(endpoint)}");
}

// The parent test closes our stdin to ask for a graceful stop; a crash of the parent closes it too, so no orphans.
await Task.Run(() => Console.In.ReadToEnd());
await server.StopAsync();
return 0;

static async Task<int> SubscribeAsync(string publisher, string topic, RpcConnectionOptions options)
{
    var member = new RecordingMember(Environment.ProcessId);
    void Serve(RpcConnection connection) => connection.AddService<IGroupMember>(member);
    if (publisher == "parent")
    {
        // A child's stdin and stdout are its parent's: it neither reads nor writes them. The parent ends it by closing
        // the connection (or dies, and the kernel ends it).
        await using var child = RpcChildProcess.ConnectToParent(Serve, options);
        await child.CreateProxy<IFeed>().SubscribeAsync(topic);
        await child.Completion;
        return 0;
    }

    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    await using var connection = await RpcConnection.ConnectAsync(publisher, Serve, options, timeout.Token);
    await connection.CreateProxy<IFeed>().SubscribeAsync(topic).WaitAsync(timeout.Token);
    Console.WriteLine($"READY {Environment.ProcessId}");

    // The parent test closes our stdin to stop us; its death closes it too, so no subscriber outlives its test.
    await Task.WhenAny(Task.Run(() => Console.In.ReadToEnd()), connection.Completion);
    return 0;
}
