using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Soak;

/// <summary>Counts every operation by kind and keeps every violation: anything not answered as expected.</summary>
internal sealed class Ledger
{
    /// <summary>Bounds each single operation: a call that hangs is a violation, not a stuck soak.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(30);

    private const int MaxKeptViolations = 50;

    private readonly ConcurrentDictionary<string, long> _counts = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private long _violationCount;

    public long ViolationCount => Interlocked.Read(ref _violationCount);

    public IEnumerable<string> Violations => _violations;

    public IEnumerable<KeyValuePair<string, long>> Counts => _counts.OrderBy(pair => pair.Key, StringComparer.Ordinal);

    public void Count(string kind, long count = 1) => _counts.AddOrUpdate(kind, count, (_, old) => old + count);

    public void Violation(string what)
    {
        // The first ones say what went wrong; a flood of the same would only hide them.
        if (Interlocked.Increment(ref _violationCount) <= MaxKeptViolations)
        {
            _violations.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {what}");
        }
    }

    /// <summary>
    /// Runs one operation, bounded by <see cref="OperationTimeout"/>; counts it under <paramref name="kind"/> if it
    /// completed as expected (it throws to say it did not), records a violation otherwise.
    /// </summary>
    public async Task ExpectAsync(string kind, Func<Task> operation)
    {
        try
        {
            await operation().WaitAsync(OperationTimeout);
            Count(kind);
        }
        catch (Exception e)
        {
            Violation($"{kind}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Runs an operation that must fail with <typeparamref name="TException"/> (or a subclass), bounded.</summary>
    public Task ExpectFailureAsync<TException>(string kind, Func<Task> operation, Func<TException, bool>? check = null)
        where TException : Exception =>
        ExpectAsync(kind, async () =>
        {
            try
            {
                await operation();
            }
            catch (TException e) when (check is null || check(e))
            {
                return;
            }

            throw new InvalidOperationException($"completed instead of failing with {typeof(TException).Name}");
        });
}
