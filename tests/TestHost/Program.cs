using System;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Tests;

// Usage: Rpc.TestHost --endpoint <endpoint> [--endpoint <endpoint>…] [--protocol binary|json] [--stack-traces] [--tls-pfx <file>]
// Prints "READY <bound endpoint>" per endpoint, then serves until stdin closes or the process is killed.
var options = new RpcServerOptions();
var endpoints = new System.Collections.Generic.List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--endpoint":
            endpoints.Add(args[++i]);
            break;
        case "--protocol":
            options.Connection.Protocol = args[++i] == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
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
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

await using var server = new RpcServer(options)
    .AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
foreach (var endpoint in endpoints)
{
    Console.WriteLine($"READY {await server.ListenAsync(endpoint)}");
}

// The parent test closes our stdin to ask for a graceful stop; a crash of the parent closes it too, so no orphans.
await Task.Run(() => Console.In.ReadToEnd());
await server.StopAsync();
return 0;
