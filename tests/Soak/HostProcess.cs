using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Soak;

/// <summary>
/// A spawned test host (tests/TestHost or tests/WorkerHost, run with <c>dotnet</c>): started, waited for until it prints
/// its READY lines, stopped by closing its stdin (which these hosts take as "stop gracefully"), killed if it lingers.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private Task _drain = Task.CompletedTask;

    private HostProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public int ProcessId => _process.Id;

    /// <summary>Gets what the host printed after "READY " on each of its READY lines (bound endpoints, or its pid).</summary>
    public List<string> Ready { get; } = [];

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <paramref name="dll"/> and waits (bounded) until it printed <paramref name="readyLines"/> READY lines.</summary>
    public static async Task<HostProcess> StartAsync(string name, string dll, IEnumerable<string> arguments, int readyLines)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var host = new HostProcess(Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start."), name);
        host._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (host._errors)
                {
                    host._errors.AppendLine(e.Data);
                }
            }
        };
        host._process.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(StartTimeout);
            while (host.Ready.Count < readyLines)
            {
                var line = await host._process.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new InvalidOperationException($"{name} exited before it was ready: {host.Errors}");
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    host.Ready.Add(line["READY ".Length..]);
                }
            }

            // Nothing more is read from its stdout, so drain it: a full pipe would block the host.
            host._drain = host._process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Closes its stdin and waits (bounded) for it to exit; true if it exited by itself with code 0.</summary>
    public async Task<bool> StopAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Already gone: its end of the pipe is closed.
            }
        }

        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(StopTimeout);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
        catch (TimeoutException)
        {
            // SIGKILL was sent; the kernel reaps it.
        }

        // Process.Dispose leaves a stdout read line by line open for the finalizer: close our ends of its pipes here, so
        // a soak that starts hundreds of hosts keeps a flat descriptor count.
        try
        {
            await _drain.WaitAsync(StopTimeout);
        }
        catch (Exception e) when (e is IOException or TimeoutException)
        {
            // The pipe broke with the killed host, or something else still holds its end: closing ours is all that is left.
        }

        _process.StandardOutput.Dispose();
        _process.StandardInput.Dispose();
        _process.Dispose();
    }
}
