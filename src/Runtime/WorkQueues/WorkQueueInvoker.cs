using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.WorkQueues;

/// <summary>
/// The invoker under the hub's generated proxy: each call the proxy makes is given to one worker by the dispatcher and
/// forwarded to that worker connection's own invoker, so the hub needs no code per contract and no reflection.
/// One per producer connection, so a call that finds the queue full pauses reading from its own producer.
/// </summary>
internal sealed class WorkQueueInvoker : IRpcInvoker
{
    private readonly WorkQueueDispatcher _dispatcher;
    private readonly RpcConnection? _producer;
    private readonly WorkQueueMetrics _metrics;
    private readonly int _maxAttempts;
    private readonly CancellationToken _stopping;
    private readonly string _hubName;

    // Null when the hub's RpcConnectionOptions.LoggerFactory is.
    private readonly ILogger? _logger;

    // producer: the connection the calls come from (paused while the queue is full), or null for in-process callers.
    public WorkQueueInvoker(WorkQueueDispatcher dispatcher, RpcConnection? producer, WorkQueueMetrics metrics, int maxAttempts, string hubName, ILogger? logger, CancellationToken stopping)
    {
        _dispatcher = dispatcher;
        _producer = producer;
        _metrics = metrics;
        _maxAttempts = maxAttempts;
        _hubName = hubName;
        _logger = logger;
        _stopping = stopping;
    }

    public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        RunAsync(method, arguments, Snapshot(method, arguments), (worker, args) => worker.InvokeAsync(method, args, resultFormatter, cancellationToken), cancellationToken);

    public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        RunAsync(method, arguments, Snapshot(method, arguments), (worker, args) => WithoutResultAsync(worker.InvokeAsync(method, args, cancellationToken)), cancellationToken);

    public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        new(InvokeAsync(method, arguments, resultFormatter, cancellationToken));

    public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        new(InvokeAsync(method, arguments, cancellationToken));

    public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        _metrics.OnQueued();
        _ = NotifyAsync(method, arguments, Stopwatch.GetTimestamp());
    }

    public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        StreamAsync(method, arguments, itemFormatter, cancellationToken);

    /// <summary>Keeps the arguments as bytes when the call may be re-run (see <see cref="ArgumentsSnapshot"/>).</summary>
    private byte[]? Snapshot<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments> =>
        method.IsIdempotent && _maxAttempts >= 2 ? ArgumentsSnapshot.Take(arguments) : null;

    /// <summary>Queues a call, runs it on one worker, and re-runs it elsewhere when that worker is lost and the method allows it.</summary>
    private async Task<TResult> RunAsync<TArguments, TResult>(RpcMethod method, TArguments arguments, byte[]? snapshot, Func<IRpcInvoker, TArguments, Task<TResult>> invoke, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        _metrics.OnQueued();
        var accepted = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            var worker = await _dispatcher.AcquireAsync(attempt > 1, _producer, cancellationToken).ConfigureAwait(false);
            if (attempt == 1)
            {
                _metrics.OnStarted(accepted);
            }

            try
            {
                var result = await invoke(worker.Invoker, arguments).ConfigureAwait(false);
                _metrics.OnCompleted();
                return result;
            }
            catch (ConnectionLostException lost) when (!cancellationToken.IsCancellationRequested)
            {
                arguments = OnWorkerLost(worker, method, attempt, snapshot, lost, arguments);
            }
            catch (RemoteInvocationException)
            {
                _metrics.OnCompleted();
                throw;
            }
            finally
            {
                _dispatcher.Release(worker);
            }
        }
    }

    private void LogCallFailed(WorkQueueWorker worker, RpcMethod method)
    {
        if (_logger is not null)
        {
            RpcLog.WorkerLostCallFailed(_logger, _hubName, worker.Connection.RemoteEndpoint, method.WireName);
        }
    }

    private static async Task<bool> WithoutResultAsync(Task call)
    {
        await call.ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Decides the fate of a call whose worker was lost: the worker may have run it, wholly or in part, so only an
    /// <c>[RpcIdempotent]</c> method is run again (the gRPC rule); anything else fails with a clear error.
    /// </summary>
    /// <returns>The arguments for the next attempt.</returns>
    private TArguments OnWorkerLost<TArguments>(WorkQueueWorker worker, RpcMethod method, int attempt, byte[]? snapshot, ConnectionLostException lost, TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        // Detach now rather than when the connection's completion is observed, so the re-run cannot pick the same worker.
        _dispatcher.Detach(worker);
        if (snapshot is null || attempt >= _maxAttempts)
        {
            LogCallFailed(worker, method);
        }
        else if (_logger is not null)
        {
            RpcLog.WorkerLostCallRerun(_logger, _hubName, worker.Connection.RemoteEndpoint, method.WireName, attempt);
        }

        if (snapshot is null)
        {
            _metrics.OnWorkerLost();
            throw new WorkerLostException(
                $"The worker running '{method.WireName}' was lost ({lost.Message}). The method is not marked [RpcIdempotent], so the " +
                "call was not re-run: it may or may not have run.",
                lost);
        }

        if (attempt >= _maxAttempts)
        {
            _metrics.OnWorkerLost();
            throw new WorkerLostException(
                $"The workers running '{method.WireName}' were lost {attempt} times ({lost.Message}); the call was not re-run again. " +
                "It may or may not have run.",
                lost);
        }

        _metrics.OnRetried();
        return ArgumentsSnapshot.Restore<TArguments>(snapshot);
    }

    private async IAsyncEnumerable<TItem> StreamAsync<TArguments, TItem>(RpcMethod method, TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken, [EnumeratorCancellation] CancellationToken enumeratorToken = default)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeratorToken);
        var token = linked.Token;
        _metrics.OnQueued();
        var accepted = Stopwatch.GetTimestamp();
        var worker = await _dispatcher.AcquireAsync(retry: false, _producer, token).ConfigureAwait(false);
        _metrics.OnStarted(accepted);
        try
        {
            // A stream is never re-run, idempotent or not: the caller may already have consumed items of the first run.
            var items = worker.Invoker.InvokeStreamAsync(method, arguments, itemFormatter, token).GetAsyncEnumerator(token);
            await using (items.ConfigureAwait(false))
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await items.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (ConnectionLostException lost) when (!token.IsCancellationRequested)
                    {
                        LogCallFailed(worker, method);
                        _dispatcher.Detach(worker);
                        _metrics.OnWorkerLost();
                        throw new WorkerLostException(
                            $"The worker streaming '{method.WireName}' was lost ({lost.Message}). Streams are never re-run; the items " +
                            "received so far are all there will be.",
                            lost);
                    }

                    if (!more)
                    {
                        break;
                    }

                    yield return items.Current;
                }
            }

            _metrics.OnCompleted();
        }
        finally
        {
            _dispatcher.Release(worker);
        }
    }

    /// <summary>
    /// A notification goes to one worker, waiting for a slot like a call; having no reply, it frees the slot as soon as
    /// it is sent, and it is never re-run (a notification promises no delivery).
    /// </summary>
    private async Task NotifyAsync<TArguments>(RpcMethod method, TArguments arguments, long accepted)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        WorkQueueWorker worker;
        try
        {
            worker = await _dispatcher.AcquireAsync(retry: false, _producer, _stopping).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or RpcException)
        {
            return;
        }

        _metrics.OnStarted(accepted);
        try
        {
            worker.Invoker.Notify(method, arguments);
            _metrics.OnCompleted();
        }
        finally
        {
            _dispatcher.Release(worker);
        }
    }
}
