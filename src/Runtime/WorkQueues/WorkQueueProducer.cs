using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc;

/// <summary>
/// A producer of a work queue (made by <see cref="RpcWorkQueue.CreateProducer{TContract}(RpcConnection, WorkQueueProducerOptions?)"/>):
/// a proxy that counts the calls it starts, bounds how many are outstanding, and can wait for them all, like Python's
/// <c>JoinableQueue.join()</c>.
/// </summary>
/// <typeparam name="TContract">The hub's contract.</typeparam>
public sealed class WorkQueueProducer<TContract>
    where TContract : class
{
    private readonly ProducerInvoker _invoker;

    internal WorkQueueProducer(IRpcInvoker inner, int maxOutstandingCalls)
    {
        _invoker = new ProducerInvoker(inner, maxOutstandingCalls);
        Proxy = RpcContractRegistry.Get<TContract>().CreateProxy(_invoker);
    }

    /// <summary>
    /// Gets the proxy. A call counts from the moment its method is called (a stream: from the moment its enumeration
    /// starts) until it completes, with a result, an error or a cancellation. Notifications are not counted: nothing
    /// reports their end. A call lost with its worker throws <see cref="WorkerLostException"/>.
    /// </summary>
    public TContract Proxy { get; }

    /// <summary>Gets how many calls started through <see cref="Proxy"/> have not completed.</summary>
    public int Outstanding => _invoker.Tracker.Outstanding;

    /// <summary>
    /// Waits until every call started through <see cref="Proxy"/> before this method was called has completed (with a
    /// result or an error). Calls started afterwards, even while the wait goes on, are not waited for. Completes at once
    /// when nothing is outstanding.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the calls go on).</param>
    /// <returns>A task that completes when the calls have.</returns>
    public Task JoinAsync(CancellationToken cancellationToken = default) => _invoker.Tracker.JoinAsync(cancellationToken);

    /// <summary>Counts outstanding calls per join epoch: a join waits for its own epoch and every earlier one.</summary>
    private sealed class JoinTracker
    {
        private readonly Dictionary<long, int> _outstandingByEpoch = [];
        private readonly List<(long Epoch, TaskCompletionSource Joined)> _joins = [];
        private long _epoch;
        private int _outstanding;

        public int Outstanding
        {
            get
            {
                lock (Gate)
                {
                    return _outstanding;
                }
            }
        }

        private object Gate => _outstandingByEpoch;

        public long Begin()
        {
            lock (Gate)
            {
                _outstanding++;
                _outstandingByEpoch[_epoch] = _outstandingByEpoch.GetValueOrDefault(_epoch) + 1;
                return _epoch;
            }
        }

        public void End(long epoch)
        {
            List<TaskCompletionSource>? joined = null;
            lock (Gate)
            {
                _outstanding--;
                var left = _outstandingByEpoch[epoch] - 1;
                if (left > 0)
                {
                    _outstandingByEpoch[epoch] = left;
                    return;
                }

                _outstandingByEpoch.Remove(epoch);
                for (var i = _joins.Count - 1; i >= 0; i--)
                {
                    if (!HasOutstandingUpToLocked(_joins[i].Epoch))
                    {
                        (joined ??= []).Add(_joins[i].Joined);
                        _joins.RemoveAt(i);
                    }
                }
            }

            if (joined is not null)
            {
                foreach (var join in joined)
                {
                    join.TrySetResult();
                }
            }
        }

        public Task JoinAsync(CancellationToken cancellationToken)
        {
            Task joined;
            lock (Gate)
            {
                // Calls started from now on belong to the next epoch, which this join does not wait for.
                var epoch = _epoch++;
                if (!HasOutstandingUpToLocked(epoch))
                {
                    return Task.CompletedTask;
                }

                var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _joins.Add((epoch, source));
                joined = source.Task;
            }

            return joined.WaitAsync(cancellationToken);
        }

        private bool HasOutstandingUpToLocked(long epoch)
        {
            foreach (var key in _outstandingByEpoch.Keys)
            {
                if (key <= epoch)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Wraps the connection's invoker: counts, bounds and translates each call.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no unmanaged resource.")]
    private sealed class ProducerInvoker : IRpcInvoker
    {
        private readonly IRpcInvoker _inner;
        private readonly SemaphoreSlim _window;

        public ProducerInvoker(IRpcInvoker inner, int maxOutstandingCalls)
        {
            _inner = inner;
            _window = new SemaphoreSlim(maxOutstandingCalls, maxOutstandingCalls);
        }

        public JoinTracker Tracker { get; } = new();

        public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            RunAsync(method, arguments, resultFormatter, Tracker.Begin(), cancellationToken);

        public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            RunAsync(method, arguments, Tracker.Begin(), cancellationToken);

        public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            new(InvokeAsync(method, arguments, resultFormatter, cancellationToken));

        public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            new(InvokeAsync(method, arguments, cancellationToken));

        public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
            where TArguments : struct, IRpcArguments<TArguments> =>
            _inner.Notify(method, arguments);

        public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            StreamAsync(method, arguments, itemFormatter, cancellationToken);

        private static WorkerLostException Translate(RemoteInvocationException exception) =>
            new WorkerLostException(exception.Message, exception);

        private async Task<TResult> RunAsync<TArguments, TResult>(RpcMethod method, TArguments arguments, RpcFormatter<TResult> resultFormatter, long epoch, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments>
        {
            try
            {
                await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    return await _inner.InvokeAsync(method, arguments, resultFormatter, cancellationToken).ConfigureAwait(false);
                }
                catch (RemoteInvocationException exception) when (exception.RemoteTypeName == RpcWorkQueue.WorkerLostTypeName)
                {
                    throw Translate(exception);
                }
                finally
                {
                    _window.Release();
                }
            }
            finally
            {
                Tracker.End(epoch);
            }
        }

        private async Task RunAsync<TArguments>(RpcMethod method, TArguments arguments, long epoch, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments>
        {
            try
            {
                await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await _inner.InvokeAsync(method, arguments, cancellationToken).ConfigureAwait(false);
                }
                catch (RemoteInvocationException exception) when (exception.RemoteTypeName == RpcWorkQueue.WorkerLostTypeName)
                {
                    throw Translate(exception);
                }
                finally
                {
                    _window.Release();
                }
            }
            finally
            {
                Tracker.End(epoch);
            }
        }

        private async IAsyncEnumerable<TItem> StreamAsync<TArguments, TItem>(RpcMethod method, TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken, [EnumeratorCancellation] CancellationToken enumeratorToken = default)
            where TArguments : struct, IRpcArguments<TArguments>
        {
            var epoch = Tracker.Begin();
            try
            {
                await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    var items = _inner.InvokeStreamAsync(method, arguments, itemFormatter, cancellationToken).GetAsyncEnumerator(enumeratorToken);
                    await using (items.ConfigureAwait(false))
                    {
                        while (true)
                        {
                            bool more;
                            try
                            {
                                more = await items.MoveNextAsync().ConfigureAwait(false);
                            }
                            catch (RemoteInvocationException exception) when (exception.RemoteTypeName == RpcWorkQueue.WorkerLostTypeName)
                            {
                                throw Translate(exception);
                            }

                            if (!more)
                            {
                                yield break;
                            }

                            yield return items.Current;
                        }
                    }
                }
                finally
                {
                    _window.Release();
                }
            }
            finally
            {
                Tracker.End(epoch);
            }
        }
    }
}
