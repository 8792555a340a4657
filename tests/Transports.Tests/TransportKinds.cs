using Xunit;

namespace Rpc.Transports.Tests;

/// <summary>Every socket transport in both receive modes.</summary>
public static class TransportKinds
{
    public static TheoryData<string> All => new() { "unix", "unix-async", "tcp", "tcp-async" };

    public static string ListenEndpoint(string kind, TestBase test) =>
        kind.StartsWith("unix", System.StringComparison.Ordinal) ? test.UnixEndpointFor("s.sock") : "tcp://127.0.0.1:0";

    public static TransportOptions Options(string kind) => new() { UseDedicatedReceiveThread = !kind.EndsWith("-async", System.StringComparison.Ordinal) };
}
