using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>How the tests end a process they started: politely first, then for certain.</summary>
internal static class SpawnedProcess
{
    /// <summary>
    /// Closes the child's stdin (the hosts exit when it closes), waits up to <paramref name="grace"/>, kills what is left,
    /// and disposes the handle in every case.
    /// </summary>
    public static async ValueTask StopAsync(Process process, TimeSpan grace)
    {
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.Close();
                using var graceful = new CancellationTokenSource(grace);
                try
                {
                    await process.WaitForExitAsync(graceful.Token);
                }
                catch (OperationCanceledException)
                {
                    Kill(process);
                }
            }
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Kills the process and its children with SIGKILL, as a crash would; one already gone is fine.</summary>
    public static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
