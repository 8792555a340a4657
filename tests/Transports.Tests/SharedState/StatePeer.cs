using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Tests.SharedState;

/// <summary>A SharedStatePeer child process; disposing kills it (SIGKILL) and waits for it.</summary>
internal sealed class StatePeer : IDisposable
{
    private readonly Process _process;

    private StatePeer(Process process) => _process = process;

    public int Id => _process.Id;

    /// <summary>Starts the peer and waits until it prints <paramref name="readyLine"/> (every peer mode prints one).</summary>
    public static async Task<StatePeer> StartAsync(string readyLine, CancellationToken cancellationToken, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SharedStatePeer.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var peer = new StatePeer(Process.Start(start) ?? throw new InvalidOperationException("could not start SharedStatePeer"));
        try
        {
            var line = await peer._process.StandardOutput.ReadLineAsync(cancellationToken);
            if (line != readyLine)
            {
                var error = await peer._process.StandardError.ReadToEndAsync(cancellationToken);
                throw new InvalidOperationException($"SharedStatePeer {string.Join(' ', arguments)} printed '{line}' instead of '{readyLine}': {error}");
            }

            return peer;
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>Waits for a peer that ends by itself; returns its exit code.</summary>
    public async Task<int> ExitCodeAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, and reap it: the process gets no chance to clean anything up.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
