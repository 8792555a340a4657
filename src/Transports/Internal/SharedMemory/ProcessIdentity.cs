using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// Identifies a process by pid and start time, so that a recycled pid is not mistaken for the process that created a file.
/// </summary>
internal static class ProcessIdentity
{
    private const int EPERM = 1;

    /// <summary>Gets this process's start time (see <see cref="StartTimeOf"/>).</summary>
    public static ulong CurrentStartTime { get; } = StartTimeOf(Environment.ProcessId) ?? 0;

    /// <summary>
    /// Returns field 22 of <c>/proc/&lt;pid&gt;/stat</c> (start time in clock ticks since boot), or <see langword="null"/> when
    /// the process does not exist.
    /// </summary>
    public static ulong? StartTimeOf(int pid) => ReadStat(pid)?.StartTime;

    /// <summary>
    /// Gets whether the process that recorded (<paramref name="pid"/>, <paramref name="startTime"/>) still runs. A start time
    /// of 0 means "unknown": then any live process with that pid counts, which errs on the side of not deleting. A zombie
    /// (killed, not yet reaped by its parent) counts as gone: it runs no code and holds nothing but its pid.
    /// </summary>
    public static bool IsAlive(int pid, ulong startTime)
    {
        if (pid <= 0)
        {
            return false;
        }

        // Signal 0 checks existence and permission only; EPERM still means "exists" (another user's process).
        if (LibC.Kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() != EPERM)
        {
            return false;
        }

        var stat = ReadStat(pid);
        if (stat is not { } known)
        {
            return true;
        }

        return known.State is not ('Z' or 'X') && (startTime == 0 || known.StartTime == startTime);
    }

    /// <summary>Reads field 3 (state) and field 22 (start time) of <c>/proc/&lt;pid&gt;/stat</c>; null when unreadable.</summary>
    private static (char State, ulong StartTime)? ReadStat(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may itself contain spaces and ')': parse after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const int StartTimeIndex = 22 - 3;
        return fields.Length > StartTimeIndex && fields[0].Length == 1
            && ulong.TryParse(fields[StartTimeIndex], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            ? (fields[0][0], ticks)
            : null;
    }
}
