using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Rpc.Soak;

/// <summary>One look at a process: resident memory, open file descriptors and threads, read from /proc.</summary>
internal readonly record struct ProcessSample(double RssMiB, int Fds, int Threads)
{
    /// <summary>Reads /proc/<paramref name="pid"/>; null when the process is gone.</summary>
    public static ProcessSample? Take(int pid)
    {
        try
        {
            double rssKiB = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rssKiB = double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }

            return new ProcessSample(rssKiB / 1024, CountDescriptors(pid), threads);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Counts open descriptors except the runtime's loaded assemblies (it keeps each one open, and loads them lazily: a
    /// first call of a kind opens a few, which is no leak).
    /// </summary>
    private static int CountDescriptors(int pid) =>
        Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget is not { } target || !target.EndsWith(".dll", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                // Closed between the listing and the look: not open any more.
                return false;
            }
        });
}

/// <summary>Everything the soak watches at one moment.</summary>
internal sealed record ResourceSample(TimeSpan At, ProcessSample Server, ProcessSample Soak, int ShmFiles, int SocketFiles);

/// <summary>
/// Samples the server process, this process (the publisher and the work-queue hub), the files the soak's shared-memory
/// names own in /dev/shm, and the files in the soak's socket directory.
/// </summary>
internal sealed class ResourceSampler(int serverPid, string shmPrefix, string socketDirectory)
{
    private readonly List<ResourceSample> _samples = [];

    public IReadOnlyList<ResourceSample> Samples
    {
        get
        {
            lock (_samples)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>Takes one sample and keeps it; throws if the server process is gone.</summary>
    public ResourceSample Take(TimeSpan at)
    {
        var sample = new ResourceSample(
            at,
            ProcessSample.Take(serverPid) ?? throw new InvalidOperationException($"the server process {serverPid} is gone"),
            ProcessSample.Take(Environment.ProcessId)!.Value,
            Directory.EnumerateFiles("/dev/shm", shmPrefix + "*").Count(),
            Directory.EnumerateFileSystemEntries(socketDirectory).Count());
        lock (_samples)
        {
            _samples.Add(sample);
        }

        return sample;
    }

    /// <summary>Gets the samples taken in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public IReadOnlyList<ResourceSample> Window(TimeSpan from, TimeSpan to) => [.. Samples.Where(s => s.At >= from && s.At < to)];
}
