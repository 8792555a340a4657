using System;
using System.Threading;

namespace Rpc.SharedState.Internal;

internal static class Timeouts
{
    /// <summary>Converts a public timeout to the milliseconds the waits take: -1 for <see cref="Timeout.InfiniteTimeSpan"/>, rounded up.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative (other than infinite) or longer than <see cref="int.MaxValue"/> ms.</exception>
    public static int ToMilliseconds(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return -1;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(timeout.TotalMilliseconds, int.MaxValue, nameof(timeout));
        return (int)Math.Ceiling(timeout.TotalMilliseconds);
    }
}
