using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.Deadlines;

[RpcContract]
public interface IDeadlineService
{
    /// <summary>Waits until its token fires, then fails with the cancellation.</summary>
    Task<int> WaitAsync(CancellationToken cancellationToken);

    [RpcTimeout(5000)]
    Task<int> WaitWithAttributeAsync(CancellationToken cancellationToken);

    /// <summary>Calls the peer's <see cref="WaitAsync"/> without passing its own token on.</summary>
    Task<int> RelayAsync(CancellationToken cancellationToken);

    /// <summary>Yields one item, then waits until its token fires.</summary>
    IAsyncEnumerable<int> TickAsync(CancellationToken cancellationToken);

    Task<int> EchoAsync(int value);
}

/// <summary>Records what the token of the last call it served did.</summary>
public sealed class DeadlineService(Func<IDeadlineService>? peer = null) : IDeadlineService
{
    private TaskCompletionSource _started = NewSignal();
    private TaskCompletionSource _tokenFired = NewSignal();

    /// <summary>Gets a task that completes when a call has started (its token is armed).</summary>
    public Task Started => Volatile.Read(ref _started).Task;

    /// <summary>Gets a task that completes when the running call's token fires.</summary>
    public Task TokenFired => Volatile.Read(ref _tokenFired).Task;

    public Task<int> WaitAsync(CancellationToken cancellationToken) => WaitForTokenAsync(cancellationToken);

    public Task<int> WaitWithAttributeAsync(CancellationToken cancellationToken) => WaitForTokenAsync(cancellationToken);

    public async Task<int> RelayAsync(CancellationToken cancellationToken)
    {
        Watch(cancellationToken);
        return await peer!().WaitAsync(CancellationToken.None);
    }

    public async IAsyncEnumerable<int> TickAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Watch(cancellationToken);
        yield return 1;
        await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);
    }

    public Task<int> EchoAsync(int value) => Task.FromResult(value);

    /// <summary>Forgets the last call, so the next one can be watched.</summary>
    public void Reset()
    {
        Volatile.Write(ref _started, NewSignal());
        Volatile.Write(ref _tokenFired, NewSignal());
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<int> WaitForTokenAsync(CancellationToken cancellationToken)
    {
        Watch(cancellationToken);
        await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);
        return 0;
    }

    private void Watch(CancellationToken cancellationToken)
    {
        var fired = Volatile.Read(ref _tokenFired);
        cancellationToken.Register(() => fired.TrySetResult());
        Volatile.Read(ref _started).TrySetResult();
    }
}
