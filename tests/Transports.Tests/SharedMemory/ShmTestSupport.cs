using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.Transports.Tests.SharedMemory;

/// <summary>Registration, unique names, the /dev/shm files of a name, and the ShmPeer child process.</summary>
internal static class ShmTestSupport
{
    private static int s_registered;

    /// <summary>Registers the provider once (until it is in RpcTransports' built-in list).</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            RpcTransports.Register(new SharedMemoryTransportProvider());
        }
    }

    public static string UniqueName(string prefix = "t") => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Every file in /dev/shm that belongs to <paramref name="name"/> (its socket and its segments).</summary>
    public static string[] FilesOf(string name) =>
        Directory.GetFileSystemEntries(SharedMemoryName.Directory)
            .Where(path => Path.GetFileName(path) == "rpc-" + name + ".sock" || Path.GetFileName(path).StartsWith(SharedMemoryName.SegmentPrefix(name), StringComparison.Ordinal))
            .ToArray();

    public static int DevShmRpcFileCount() =>
        Directory.GetFileSystemEntries(SharedMemoryName.Directory, "rpc-*").Length;
}

/// <summary>A ShmPeer child process; disposing kills it (SIGKILL) and waits for it.</summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;
    private readonly string? _socketToRemove;

    private PeerProcess(Process process, string? socketToRemove)
    {
        _process = process;
        _socketToRemove = socketToRemove;
    }

    public int Id => _process.Id;

    /// <summary>How to start ShmPeer; stdin is redirected, and the peer exits when it closes.</summary>
    public static ProcessStartInfo CreateStartInfo(string mode, string name)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ShmPeer.dll"));
        start.ArgumentList.Add(mode);
        start.ArgumentList.Add(name);
        return start;
    }

    public static async Task<PeerProcess> StartAsync(string mode, string name, CancellationToken cancellationToken)
    {
        var start = CreateStartInfo(mode, name);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start ShmPeer");
        // A server killed with SIGKILL leaves its rendezvous socket (that is what stale-file reclaim is for); tidy up after it.
        var peer = new PeerProcess(process, mode is "flood-client" or "rendezvous-connect" ? null : SharedMemoryName.RendezvousPath(name));
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken);
            if (line != "ready")
            {
                var error = await process.StandardError.ReadToEndAsync(cancellationToken);
                throw new InvalidOperationException($"ShmPeer {mode} {name} did not start: '{line}' {error}");
            }

            return peer;
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>SIGSTOP: the process stays alive (its sockets open) but runs no instruction until <see cref="Continue"/>.</summary>
    public void Stop() => Signal(SignalStop);

    /// <summary>SIGCONT.</summary>
    public void Continue() => Signal(SignalContinue);

    /// <summary>SIGKILL: the process gets no chance to clean anything up.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
        }

        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        // SIGKILL ends a stopped process too; SIGCONT first so that nothing is left stopped if the kill fails.
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, SignalContinue);
        }

        Kill();
        _process.Dispose();
        if (_socketToRemove is not null)
        {
            File.Delete(_socketToRemove);
        }
    }

    private const int SignalStop = 19;
    private const int SignalContinue = 18;

    private void Signal(int signal)
    {
        if (!_process.HasExited && kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which this project does not enable.
    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
