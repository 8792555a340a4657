using System;
using System.Threading;
using Rpc.Runtime;

namespace Rpc;

/// <summary>
/// Per-call settings for the calls a block of code makes, carried by the async flow:
/// <c>using (RpcCallOptions.Timeout(TimeSpan.FromSeconds(2))) await proxy.MethodAsync();</c>. A scope's timeout wins over
/// <see cref="RpcTimeoutAttribute"/> and <see cref="RpcConnectionOptions.DefaultCallTimeout"/>; a scope's deadline (or a
/// deadline propagated from an incoming call) caps whatever timeout applies.
/// </summary>
public static class RpcCallOptions
{
    /// <summary>The longest timeout accepted: the longest period a <see cref="System.Threading.Timer"/> supports.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private static readonly AsyncLocal<CallScope?> Current = new();

    // Set once any scope has been entered in the process, so callers that never use scopes skip the AsyncLocal read.
    private static volatile bool s_scopesUsed;

    /// <summary>
    /// Gives each call made inside the scope (on any connection, both protocols) this timeout, counted from the start of
    /// that call. Dispose the scope to end it.
    /// </summary>
    /// <param name="timeout">Positive, at most ~49 days; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> removes the timeout.</param>
    /// <returns>The scope.</returns>
    public static RpcCallScope Timeout(TimeSpan timeout)
    {
        if (timeout != System.Threading.Timeout.InfiniteTimeSpan && (timeout <= TimeSpan.Zero || timeout > MaxTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A call timeout must be positive and at most ~49 days, or Timeout.InfiniteTimeSpan.");
        }

        var outer = Enter();
        return Push(outer, new CallScope(timeout, outer?.Deadline));
    }

    /// <summary>
    /// Makes every call made inside the scope end by <paramref name="deadline"/> (read on the connection's
    /// <see cref="RpcConnectionOptions.TimeProvider"/>), whatever its own timeout; an outer, earlier deadline still holds.
    /// </summary>
    /// <param name="deadline">The moment by which calls must complete.</param>
    /// <returns>The scope.</returns>
    public static RpcCallScope Deadline(DateTimeOffset deadline)
    {
        var outer = Enter();
        return Push(outer, new CallScope(outer?.Timeout, Earlier(outer?.Deadline, deadline)));
    }

    /// <summary>Caps the calls made while serving an incoming call with its deadline (propagation).</summary>
    internal static RpcCallScope Propagate(DateTimeOffset deadline)
    {
        // The serving thread's flow may carry a scope of whoever started the connection: it does not apply here.
        var outer = Enter();
        return Push(outer, new CallScope(null, deadline));
    }

    /// <summary>
    /// The time a call may take: the scope's timeout, else the method's <c>[RpcTimeout]</c>, else the connection's default;
    /// capped by a scope deadline. <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> when there is none;
    /// <see cref="TimeSpan.Zero"/> when a deadline has already passed.
    /// </summary>
    internal static TimeSpan TimeoutOf(RpcMethod method, RpcConnectionOptions options)
    {
        var timeout = method.Timeout ?? options.DefaultCallTimeout;
        if (!s_scopesUsed || Current.Value is not { } scope)
        {
            return timeout;
        }

        if (scope.Timeout is { } scoped)
        {
            timeout = scoped;
        }

        if (scope.Deadline is { } deadline)
        {
            var left = deadline - options.TimeProvider.GetUtcNow();
            if (left < TimeSpan.Zero)
            {
                left = TimeSpan.Zero;
            }

            // A deadline beyond any timer's reach cannot come before a timeout, and is the same as none.
            if (left <= MaxTimeout && (timeout == System.Threading.Timeout.InfiniteTimeSpan || left < timeout))
            {
                timeout = left;
            }
        }

        return timeout;
    }

    internal static void Restore(CallScope? outer) => Current.Value = outer;

    /// <summary>What the caller of a call past its deadline gets, on either protocol.</summary>
    internal static RpcTimeoutException DeadlineExceeded(RpcMethod method, Exception? innerException) =>
        new($"The call to '{method.WireName}' did not complete before its deadline.", innerException);

    private static CallScope? Enter()
    {
        s_scopesUsed = true;
        return Current.Value;
    }

    private static RpcCallScope Push(CallScope? outer, CallScope scope)
    {
        Current.Value = scope;
        return new RpcCallScope(outer);
    }

    private static DateTimeOffset Earlier(DateTimeOffset? outer, DateTimeOffset deadline) =>
        outer is { } first && first < deadline ? first : deadline;

    internal sealed record CallScope(TimeSpan? Timeout, DateTimeOffset? Deadline);
}

/// <summary>An <see cref="RpcCallOptions"/> scope; disposing it restores the settings that held before it.</summary>
public readonly struct RpcCallScope : IDisposable
{
    private readonly RpcCallOptions.CallScope? _outer;

    internal RpcCallScope(RpcCallOptions.CallScope? outer)
    {
        _outer = outer;
    }

    /// <summary>Ends the scope.</summary>
    public void Dispose() => RpcCallOptions.Restore(_outer);
}
