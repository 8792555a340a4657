using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Rpc.Transports;

namespace Rpc.Tests.Conformance;

/// <summary>Fresh endpoints per transport, so tests never collide.</summary>
public static class TestEndpoints
{
    public static IReadOnlyList<string> Transports { get; } = ["unix", "tcp", "tls", "pipe", "shm"];

    /// <summary>
    /// The name that stands for a parent and its <see cref="RpcChildProcess"/> (anonymous pipes, started rather than
    /// connected to) beside the endpoint transports in <see cref="TransportsAndChildProcess"/>; <see cref="Create"/> has
    /// no endpoint for it.
    /// </summary>
    public const string ChildProcess = "child";

    /// <summary>Gets every way two processes can be linked: each of <see cref="Transports"/>, then <see cref="ChildProcess"/>.</summary>
    public static TheoryData<string> TransportsAndChildProcess
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var transport in Transports)
            {
                data.Add(transport);
            }

            data.Add(ChildProcess);
            return data;
        }
    }

    private static readonly Lazy<string> ServerPfx = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"rpc-tls-{Environment.ProcessId}.pfx");
        File.WriteAllBytes(path, Rpc.Transports.Tests.Tls.TestCertificates.Server.Export(X509ContentType.Pkcs12));
        return path;
    });

    private static readonly Lazy<string> TrustedCa = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"rpc-tls-ca-{Environment.ProcessId}.cer");
        File.WriteAllBytes(path, Rpc.Transports.Tests.Tls.TestCertificates.TrustedRoots[0].Export(X509ContentType.Cert));
        return path;
    });

    /// <param name="transport">A name from <see cref="Transports"/>.</param>
    /// <param name="fixedPort">For TCP, a concrete free port instead of 0, so a restarted server binds the same endpoint.</param>
    public static string Create(string transport, bool fixedPort = false) => transport switch
    {
        "unix" => $"unix://{Path.Combine(Path.GetTempPath(), $"rpc-test-{Guid.NewGuid():N}.sock")}",
        "tcp" => $"tcp://127.0.0.1:{(fixedPort ? FreePort() : 0)}",
        "tls" => $"tls://127.0.0.1:{(fixedPort ? FreePort() : 0)}",
        "pipe" => $"pipe://rpc-test-{Guid.NewGuid():N}",
        "shm" => $"shm://rpc-test-{Guid.NewGuid():N}",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown transport."),
    };

    /// <summary>Gets the settings a client of <paramref name="transport"/> needs (for TLS: trust in the tests' private CA).</summary>
    public static TransportOptions ClientTransport(string transport) =>
        new() { Tls = transport == "tls" ? Rpc.Transports.Tests.Tls.TestCertificates.ClientOptions() : null };

    /// <summary>Gets the settings an in-process server on <paramref name="transport"/> needs (for TLS: its certificate).</summary>
    public static TransportOptions ServerTransport(string transport) =>
        new() { Tls = transport == "tls" ? Rpc.Transports.Tests.Tls.TestCertificates.ServerOptions() : null };

    /// <summary>Gets connection settings for an in-process client of <paramref name="transport"/>.</summary>
    public static RpcConnectionOptions ClientOptions(string transport) => new() { Transport = ClientTransport(transport) };

    /// <summary>Gets settings for an in-process server on <paramref name="transport"/>, serving both protocols.</summary>
    public static RpcServerOptions ServerOptions(string transport) =>
        new() { Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc], Connection = { Transport = ServerTransport(transport) } };

    /// <summary>Gets the test host's arguments for <paramref name="transport"/> (for TLS: its certificate, as a file).</summary>
    public static IReadOnlyList<string> HostArguments(string transport) =>
        transport == "tls" ? ["--tls-pfx", ServerPfx.Value] : [];

    /// <summary>
    /// Gets the arguments a spawned client host (tests/WorkerHost, tests/TestHost as a subscriber) needs to connect over
    /// <paramref name="transport"/>: for TLS, trust in the tests' private CA, as a certificate file.
    /// </summary>
    public static IReadOnlyList<string> ClientHostArguments(string transport) =>
        transport == "tls" ? ["--tls-ca", TrustedCa.Value] : [];

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
