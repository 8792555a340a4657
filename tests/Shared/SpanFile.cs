using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace Rpc.Tests;

/// <summary>One span a host process ended, as <see cref="SpanFile"/> wrote it.</summary>
/// <param name="Kind">The activity kind.</param>
/// <param name="Name">The span name (<c>service/method</c>).</param>
/// <param name="TraceId">The W3C trace id.</param>
/// <param name="SpanId">The span's id.</param>
/// <param name="ParentSpanId">The parent's span id, or all zeros for a root.</param>
/// <param name="ErrorType">The <c>error.type</c> tag, or "-".</param>
public sealed record SpanLine(ActivityKind Kind, string Name, string TraceId, string SpanId, string ParentSpanId, string ErrorType);

/// <summary>
/// Lets a host process (tests/TestHost, tests/WorkerHost) report the spans of the <c>Rpc</c> source to the test that
/// started it: each ended span is one line of a file, written and flushed as it ends, which the test reads.
/// </summary>
public static class SpanFile
{
    private static readonly object Gate = new();

    /// <summary>Samples every span of the <c>Rpc</c> source and appends each one that ends to <paramref name="path"/>.</summary>
    /// <returns>The listener; disposing it stops the recording.</returns>
    public static ActivityListener Record(string path)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Rpc",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                var line = string.Join(
                    ' ',
                    activity.Kind,
                    activity.DisplayName,
                    activity.TraceId.ToHexString(),
                    activity.SpanId.ToHexString(),
                    activity.ParentSpanId.ToHexString(),
                    activity.GetTagItem("error.type") as string ?? "-");
                lock (Gate)
                {
                    File.AppendAllText(path, line + "\n");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>Reads the spans written so far (none when the file does not exist yet).</summary>
    public static IReadOnlyList<SpanLine> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length == 6)
            .Select(fields => new SpanLine(Enum.Parse<ActivityKind>(fields[0]), fields[1], fields[2], fields[3], fields[4], fields[5]))
            .ToList();
    }
}
