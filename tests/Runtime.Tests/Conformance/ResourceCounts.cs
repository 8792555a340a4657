using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.Conformance;

/// <summary>What a process holds that a leaked connection would grow: file descriptors, threads, endpoint files.</summary>
/// <remarks>
/// Endpoint files are counted for one endpoint only (<see cref="Conformance.EndpointFiles"/>): other tests of this process
/// and other test assemblies, which <c>dotnet test</c> runs at the same time, create files of their own.
/// </remarks>
public sealed record ResourceCounts(int FileDescriptors, int Threads, int EndpointFiles)
{
    /// <summary>Slack for descriptors and threads the runtime itself opens lazily (thread-pool growth, timers).</summary>
    private const int Slack = 8;

    /// <param name="endpoint">
    /// The endpoint under test, whose files (socket, pipe and shared-memory segments) are counted; none for endpoints
    /// without files (tcp, tls) or <see langword="null"/>.
    /// </param>
    public static ResourceCounts Take(string? endpoint = null)
    {
        using var process = Process.GetCurrentProcess();
        return new ResourceCounts(Directory.GetFiles("/proc/self/fd").Length, process.Threads.Count, endpoint is null ? 0 : Conformance.EndpointFiles.Of(endpoint).Count);
    }

    /// <summary>Waits (bounded by <paramref name="cancellationToken"/>) until the counts are back within slack of the baseline.</summary>
    public static async Task WaitUntilBackToAsync(ResourceCounts baseline, CancellationToken cancellationToken, string? endpoint = null)
    {
        var now = Take(endpoint);
        while (!now.IsWithin(baseline))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"Resources did not return to baseline: {baseline} → {now}.");
            }

            await Task.Delay(50, CancellationToken.None);
            now = Take(endpoint);
        }
    }

    private bool IsWithin(ResourceCounts baseline) =>
        FileDescriptors <= baseline.FileDescriptors + Slack
        && Threads <= baseline.Threads + Slack
        && EndpointFiles <= baseline.EndpointFiles;
}
