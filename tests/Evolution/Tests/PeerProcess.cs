using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests;

namespace Rpc.Evolution.Tests;

/// <summary>
/// One build of the contract serving in its own process (tests/Evolution/V1 or V2, run from beside the tests), with
/// the binary protocol and JSON-RPC on a Unix socket and on TCP. Disposing closes its stdin (a graceful stop) and kills
/// it if it has not exited within 10 s, so no test leaves a process behind.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Dictionary<(string Protocol, string Transport), string> _endpoints;

    private PeerProcess(Process process, Dictionary<(string Protocol, string Transport), string> endpoints)
    {
        _process = process;
        _endpoints = endpoints;
    }

    /// <summary>Starts <c>Rpc.Evolution.&lt;version&gt;.dll</c> and waits until it listens on every endpoint.</summary>
    /// <param name="version">"V1" or "V2".</param>
    /// <param name="cancellationToken">Bounds the start; the process is killed if it fires.</param>
    public static async Task<PeerProcess> StartAsync(string version, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, $"Rpc.Evolution.{version}.dll"));
        start.ArgumentList.Add("--endpoint");
        start.ArgumentList.Add($"unix://{Path.Combine(Path.GetTempPath(), $"rpc-evolution-{Guid.NewGuid():N}.sock")}");
        start.ArgumentList.Add("--endpoint");
        start.ArgumentList.Add("tcp://127.0.0.1:0");

        var process = Process.Start(start) ?? throw new InvalidOperationException($"The {version} peer did not start.");
        var endpoints = new Dictionary<(string, string), string>();
        try
        {
            // Two endpoints, each served with both protocols: "READY <protocol> <bound endpoint>" four times.
            while (endpoints.Count < 4)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"The {version} peer exited before it was ready.");
                var parts = line.Split(' ');
                if (parts is ["READY", var protocol, var endpoint])
                {
                    endpoints[(protocol, endpoint[..endpoint.IndexOf(':', StringComparison.Ordinal)])] = endpoint;
                }
            }
        }
        catch
        {
            SpawnedProcess.Kill(process);
            process.Dispose();
            throw;
        }

        return new PeerProcess(process, endpoints);
    }

    /// <summary>Gets the endpoint serving <paramref name="protocol"/> ("binary" or "json") on <paramref name="transport"/> ("unix" or "tcp").</summary>
    public string Endpoint(string protocol, string transport) => _endpoints[(protocol, transport)];

    public async ValueTask DisposeAsync()
    {
        await SpawnedProcess.StopAsync(_process, TimeSpan.FromSeconds(10));
    }

}
