using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace Rpc.Tests.Conformance;

/// <summary>Fresh endpoints per transport, so tests never collide.</summary>
public static class TestEndpoints
{
    public static IReadOnlyList<string> Transports { get; } = ["unix", "tcp", "pipe", "shm"];

    /// <param name="transport">A name from <see cref="Transports"/>.</param>
    /// <param name="fixedPort">For TCP, a concrete free port instead of 0, so a restarted server binds the same endpoint.</param>
    public static string Create(string transport, bool fixedPort = false) => transport switch
    {
        "unix" => $"unix://{Path.Combine(Path.GetTempPath(), $"rpc-test-{Guid.NewGuid():N}.sock")}",
        "tcp" => $"tcp://127.0.0.1:{(fixedPort ? FreePort() : 0)}",
        "pipe" => $"pipe://rpc-test-{Guid.NewGuid():N}",
        "shm" => $"shm://rpc-test-{Guid.NewGuid():N}",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown transport."),
    };

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
