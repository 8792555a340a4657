using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>
/// A test host (tests/TestHost) in its own process: a server, or a subscriber of an in-process publisher. Disposing
/// closes its stdin (a graceful stop) and kills it if it has not exited within a few seconds, so no test leaves a
/// process behind.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, IReadOnlyList<string> endpoints)
    {
        _process = process;
        Endpoints = endpoints;
    }

    /// <summary>Gets the path of Rpc.TestHost.dll, for tests that start it themselves (as an <see cref="RpcChildProcess"/>).</summary>
    public static string HostPath => Path.Combine(AppContext.BaseDirectory, "Rpc.TestHost.dll");

    public IReadOnlyList<string> Endpoints { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the test host as a server of <c>ITestService</c> on <paramref name="endpoints"/>.</summary>
    /// <param name="endpoints">The endpoints to listen on.</param>
    /// <param name="onlyProtocol">"binary" or "json" to serve only that protocol, or <see langword="null"/> for both (the default).</param>
    /// <param name="arguments">More arguments, for example <see cref="Conformance.TestEndpoints.HostArguments"/>.</param>
    /// <param name="cancellationToken">Cancels the start (the process is killed).</param>
    public static async Task<ServerProcess> StartAsync(IEnumerable<string> endpoints, string? onlyProtocol = null, IEnumerable<string>? arguments = null, CancellationToken cancellationToken = default)
    {
        var all = onlyProtocol is null ? new List<string>() : ["--protocol", onlyProtocol];
        all.AddRange(arguments ?? []);
        var count = 0;
        foreach (var endpoint in endpoints)
        {
            all.Add("--endpoint");
            all.Add(endpoint);
            count++;
        }

        var (process, bound) = await StartCoreAsync(all, count, cancellationToken);
        return new ServerProcess(process, bound);
    }

    /// <summary>
    /// Starts the test host as a subscriber: it connects to <paramref name="publisher"/> (an in-process server serving
    /// <c>IFeed</c>), serves <c>IGroupMember</c> there with its process id as its id, and has subscribed to
    /// <paramref name="topic"/> when this returns. Disposing it (or its death) closes its connection.
    /// </summary>
    /// <param name="publisher">The publisher's endpoint.</param>
    /// <param name="topic">The topic to subscribe to.</param>
    /// <param name="arguments">More arguments, for example <see cref="Conformance.TestEndpoints.ClientHostArguments"/>.</param>
    /// <param name="cancellationToken">Cancels the start (the process is killed).</param>
    public static async Task<ServerProcess> StartSubscriberAsync(string publisher, string topic, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var all = new List<string> { "--subscribe", publisher, "--topic", topic };
        all.AddRange(arguments);
        var (process, _) = await StartCoreAsync(all, 1, cancellationToken);
        return new ServerProcess(process, []);
    }

    /// <summary>Starts the test host and waits for <paramref name="ready"/> "READY &lt;value&gt;" lines; returns the values.</summary>
    private static async Task<(Process Process, List<string> Ready)> StartCoreAsync(IEnumerable<string> arguments, int ready, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HostPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("The test host did not start.");
        var values = new List<string>();
        try
        {
            while (values.Count < ready)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancellationToken)
                    ?? throw new InvalidOperationException($"The test host exited before it was ready (exit code {(process.WaitForExit(5000) ? process.ExitCode : -1)}).");
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    values.Add(line["READY ".Length..]);
                }
            }
        }
        catch
        {
            SpawnedProcess.Kill(process);
            process.Dispose();
            throw;
        }

        return (process, values);
    }

    /// <summary>Kills the server with SIGKILL, as a crash would.</summary>
    public void Kill() => SpawnedProcess.Kill(_process);

    /// <summary>
    /// Stops the process with SIGSTOP: it stays alive, its sockets open (the kernel still acknowledges what arrives), but
    /// it runs no instruction until <see cref="Resume"/>. Returns once every thread is stopped (the signal is delivered
    /// asynchronously, so a thread may otherwise still answer a call sent just after it). Callers resume it in a
    /// <c>finally</c>, or disposing would wait.
    /// </summary>
    public void Suspend()
    {
        Signal(SignalStop);
        var limit = Stopwatch.StartNew();
        while (!AllThreadsStopped())
        {
            if (limit.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"Process {_process.Id} did not stop within 30 s of SIGSTOP.");
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>Resumes a process stopped by <see cref="Suspend"/> (SIGCONT).</summary>
    public void Resume() => Signal(SignalContinue);

    public async ValueTask DisposeAsync()
    {
        await SpawnedProcess.StopAsync(_process, TimeSpan.FromSeconds(10));
    }

    private const int SignalStop = 19;
    private const int SignalContinue = 18;

    /// <summary>Reads each thread's state in /proc (the field after the parenthesized name): 'T' is stopped by a signal.</summary>
    private bool AllThreadsStopped()
    {
        foreach (var task in Directory.GetDirectories($"/proc/{_process.Id}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
                continue;
            }

            if (!stat[(stat.LastIndexOf(')') + 2)..].StartsWith('T'))
            {
                return false;
            }
        }

        return true;
    }

    private void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    // DllImport, not LibraryImport: the generated marshalling needs unsafe code, which this project does not enable.
    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054

}
