using System;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>Bounds every wait in a test: nothing here may hang the run.</summary>
public abstract class TestBase : IDisposable
{
    /// <summary>Long enough for a loaded 2-core CI machine, short enough that a hang fails fast.</summary>
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    private readonly CancellationTokenSource _timeout = new(Timeout);

    /// <summary>Gets a token that fires when the test has run too long.</summary>
    protected virtual CancellationToken TimeoutToken => _timeout.Token;

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, polling it; fails the test with the condition's text if it does
    /// not within <paramref name="timeout"/> (default <see cref="Timeout"/>). The way to wait for a state another thread
    /// or process reaches: never a fixed sleep before an assertion.
    /// </summary>
    protected Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, [CallerArgumentExpression(nameof(condition))] string? what = null) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <inheritdoc cref="WaitUntilAsync(Func{bool}, TimeSpan?, string?)"/>
    protected async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, [CallerArgumentExpression(nameof(condition))] string? what = null)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TimeoutToken);
        limit.CancelAfter(timeout ?? Timeout);
        try
        {
            while (!await condition().WaitAsync(limit.Token))
            {
                await Task.Delay(PollInterval, limit.Token);
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out after {timeout ?? Timeout} waiting until {what}");
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timeout.Dispose();
        }
    }
}
