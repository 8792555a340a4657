using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.Conformance;

/// <summary>What a process holds that a leaked connection would grow: file descriptors, threads, endpoint files.</summary>
public sealed record ResourceCounts(int FileDescriptors, int Threads, int EndpointFiles)
{
    /// <summary>Slack for descriptors and threads the runtime itself opens lazily (thread-pool growth, timers).</summary>
    private const int Slack = 8;

    public static ResourceCounts Take()
    {
        using var process = Process.GetCurrentProcess();
        return new ResourceCounts(
            Directory.GetFiles("/proc/self/fd").Length,
            process.Threads.Count,
            Directory.GetFiles(Path.GetTempPath(), "rpc-test-*").Length + (Directory.Exists("/dev/shm") ? Directory.GetFiles("/dev/shm", "rpc-*").Length : 0));
    }

    /// <summary>Waits (bounded by <paramref name="cancellationToken"/>) until the counts are back within slack of the baseline.</summary>
    public static async Task WaitUntilBackToAsync(ResourceCounts baseline, CancellationToken cancellationToken)
    {
        var now = Take();
        while (!now.IsWithin(baseline))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Assert.Fail($"Resources did not return to baseline: {baseline} → {now}.");
            }

            await Task.Delay(50, CancellationToken.None);
            now = Take();
        }
    }

    private bool IsWithin(ResourceCounts baseline) =>
        FileDescriptors <= baseline.FileDescriptors + Slack
        && Threads <= baseline.Threads + Slack
        && EndpointFiles <= baseline.EndpointFiles;
}
