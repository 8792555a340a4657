using System;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;
using Rpc.Diagnostics;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>The pending call behind a <see cref="Task{TResult}"/> proxy method: the task itself is the only other allocation.</summary>
internal sealed class TaskCall<T>(TaskCreationOptions options) : TaskCompletionSource<T>(options), IPendingReply<T>
{
    public void Deliver(T value) => TrySetResult(value);

    public void Fail(Exception exception) => TrySetException(exception);

    public void Cancel(CancellationToken cancellationToken) => TrySetCanceled(cancellationToken);

    public void Complete() => TrySetResult(default!);
}

/// <summary>The pending call behind a <see cref="Task"/> proxy method.</summary>
internal sealed class TaskCall(TaskCreationOptions options) : TaskCompletionSource(options), IPendingReply
{
    public void Fail(Exception exception) => TrySetException(exception);

    public void Cancel(CancellationToken cancellationToken) => TrySetCanceled(cancellationToken);

    public void Complete() => TrySetResult();
}

/// <summary>
/// The pending call behind a <see cref="ValueTask{TResult}"/> proxy method, pooled so a steady stream of calls
/// allocates nothing. It returns itself to the pool when the awaiter reads the result.
/// </summary>
internal sealed class ValueTaskCall<T> : IValueTaskSource<T>, IValueTaskSource, IPendingReply<T>
{
    private const int PoolSize = 64;
    private static readonly ValueTaskCall<T>?[] Pool = new ValueTaskCall<T>?[PoolSize];

    private ManualResetValueTaskSourceCore<T> _core;

    public static ValueTaskCall<T> Rent(bool runContinuationsAsynchronously)
    {
        ValueTaskCall<T>? call = null;
        for (var i = 0; i < PoolSize && call is null; i++)
        {
            call = Interlocked.Exchange(ref Pool[i], null);
        }

        call ??= new ValueTaskCall<T>();
        call._core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        return call;
    }

    public ValueTask<T> AsValueTask() => new(this, _core.Version);

    public ValueTask AsVoidValueTask() => new(this, _core.Version);

    public void Deliver(T value) => _core.SetResult(value);

    public void Fail(Exception exception) => _core.SetException(exception);

    public void Cancel(CancellationToken cancellationToken) => _core.SetException(new TaskCanceledException(null, null, cancellationToken));

    public void Complete() => _core.SetResult(default!);

    public T GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Return();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Return()
    {
        _core.Reset();
        for (var i = 0; i < PoolSize; i++)
        {
            if (Interlocked.CompareExchange(ref Pool[i], this, null) is null)
            {
                return;
            }
        }
    }
}
