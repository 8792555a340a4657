using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Calculator;

/// <summary>The sample server as a child process: started with its endpoints, stopped by closing its stdin.</summary>
internal sealed class ChildServer : IAsyncDisposable
{
    private readonly Process _process;

    private ChildServer(Process process, List<string> endpoints)
    {
        _process = process;
        Endpoints = endpoints;
    }

    public IReadOnlyList<string> Endpoints { get; }

    public int ProcessId => _process.Id;

    /// <summary>Gets the command that runs the server: the native executable of an AOT build, else the managed assembly.</summary>
    public static (string FileName, IReadOnlyList<string> Arguments) Command(string? serverPath)
    {
        serverPath ??= File.Exists(Path.Combine(AppContext.BaseDirectory, "Calculator.Server.dll"))
            ? Path.Combine(AppContext.BaseDirectory, "Calculator.Server.dll")
            : Path.Combine(AppContext.BaseDirectory, "Calculator.Server");
        return serverPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ("dotnet", [serverPath]) : (serverPath, []);
    }

    public static async Task<ChildServer> StartAsync(string? serverPath, IReadOnlyList<string> endpoints)
    {
        var (fileName, arguments) = Command(serverPath);
        var server = arguments.Count > 0 ? arguments[0] : fileName;
        if (!File.Exists(server))
        {
            throw new FileNotFoundException($"There is no sample server at '{server}'.", server);
        }

        var start = new ProcessStartInfo(fileName);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var endpoint in endpoints)
        {
            start.ArgumentList.Add("--endpoint");
            start.ArgumentList.Add(endpoint);
        }

        start.ArgumentList.Add("--stop-on-stdin-close");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("The server did not start.");
        var bound = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (bound.Count < endpoints.Count)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new IOException($"The server at '{server}' exited before it was listening.");
            Console.WriteLine($"   server: {line}");
            if (line.StartsWith("listening on ", StringComparison.Ordinal))
            {
                bound.Add(line["listening on ".Length..].Split(' ')[0]);
            }
        }

        return new ChildServer(process, bound);
    }

    /// <summary>Asks the server to stop (closes its stdin) and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _process.WaitForExitAsync(timeout.Token);
        Console.WriteLine($"   server: {await _process.StandardOutput.ReadToEndAsync(timeout.Token)}".TrimEnd());
        return _process.ExitCode;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        return default;
    }
}
