using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Reflection;

namespace Rpc.Samples;

/// <summary>Samples that fan out start copies of themselves (subscribers, workers) and must not leave them behind.</summary>
internal static class SelfProcess
{
    /// <summary>Starts this program again with <paramref name="arguments"/>: through the apphost, or through dotnet when run as a dll.</summary>
    public static Process Start(IEnumerable<string> arguments, bool redirectOutput = false)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = redirectOutput, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, Assembly.GetEntryAssembly()!.GetName().Name + ".dll"));
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"A copy of {self} did not start.");
    }

    /// <summary>Kills the copies still running (a failed or interrupted run) and releases every one.</summary>
    public static void KillAll(IEnumerable<Process> children)
    {
        foreach (var child in children)
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit(5000);
            }

            child.Dispose();
        }
    }
}
