using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc;

public sealed partial class RpcClient
{
    /// <summary>
    /// Sends a call that found no open connection, or one that may be sent again (<c>[RpcIdempotent]</c>): waits for a
    /// connection as the options say and, for an idempotent method, sends it again on the next connection when the one
    /// carrying it is lost.
    /// </summary>
    private async Task<TResult> CallAsync<TArguments, TResult>(RpcMethod method, TArguments arguments, Func<IRpcInvoker, TArguments, Task<TResult>> send, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var maxAttempts = method.IsIdempotent ? _options.MaxIdempotentAttempts : 1;
        var snapshot = maxAttempts > 1 ? ArgumentsSnapshot.Take(arguments) : null;

        // The call's deadline covers the waits for a connection and every send: each send gets only the time left.
        var timeout = RpcCallOptions.TimeoutOf(method, _options.Connection);
        DateTimeOffset? deadline = timeout == Timeout.InfiniteTimeSpan ? null : _options.Connection.TimeProvider.GetUtcNow() + timeout;
        RpcCallScope? deadlineScope = deadline is { } moment ? RpcCallOptions.Deadline(moment) : null;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                // A retry always waits for the next connection: failing it fast would waste the retry.
                var connection = await WaitForConnectionAsync(_options.WaitForReady || attempt > 1, method, deadline, cancellationToken).ConfigureAwait(false);
                try
                {
                    return await send(connection.Protocol, arguments).ConfigureAwait(false);
                }
                catch (ConnectionLostException) when (snapshot is not null && attempt < maxAttempts && !cancellationToken.IsCancellationRequested)
                {
                    arguments = ArgumentsSnapshot.Restore<TArguments>(snapshot);
                }
            }
        }
        finally
        {
            deadlineScope?.Dispose();
        }
    }

    private static async Task<bool> WithoutResultAsync(Task call)
    {
        await call.ConfigureAwait(false);
        return true;
    }

    /// <summary>A stream takes the connection of the moment its enumeration starts, and is never sent again.</summary>
    private async IAsyncEnumerable<TItem> StreamAsync<TArguments, TItem>(RpcMethod method, TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken, [EnumeratorCancellation] CancellationToken enumeratorToken = default)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeratorToken);
        var timeout = RpcCallOptions.TimeoutOf(method, _options.Connection);
        DateTimeOffset? deadline = timeout == Timeout.InfiniteTimeSpan ? null : _options.Connection.TimeProvider.GetUtcNow() + timeout;
        var connection = await WaitForConnectionAsync(_options.WaitForReady, method, deadline, linked.Token).ConfigureAwait(false);
        await foreach (var item in connection.Protocol.InvokeStreamAsync(method, arguments, itemFormatter, cancellationToken).WithCancellation(enumeratorToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    /// <summary>
    /// The invoker under the client's proxies. Connected, a call that is not idempotent goes straight to the connection's
    /// own invoker and its task is returned as is: no state machine, no allocation, no lock beyond the connection's own.
    /// </summary>
    private sealed class Invoker(RpcClient client) : IRpcInvoker
    {
        public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            !method.IsIdempotent && client.Connection is { } connection
                ? connection.Protocol.InvokeAsync(method, arguments, resultFormatter, cancellationToken)
                : CallAsync(method, arguments, resultFormatter, cancellationToken);

        public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            !method.IsIdempotent && client.Connection is { } connection
                ? connection.Protocol.InvokeAsync(method, arguments, cancellationToken)
                : CallAsync(method, arguments, cancellationToken);

        public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            !method.IsIdempotent && client.Connection is { } connection
                ? connection.Protocol.InvokeValueTaskAsync(method, arguments, resultFormatter, cancellationToken)
                : new(CallValueTaskAsync(method, arguments, resultFormatter, cancellationToken));

        public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            !method.IsIdempotent && client.Connection is { } connection
                ? connection.Protocol.InvokeValueTaskAsync(method, arguments, cancellationToken)
                : new(CallValueTaskAsync(method, arguments, cancellationToken));

        /// <summary>Sent on the open connection, else dropped: a notification promises no delivery.</summary>
        public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.Connection?.Protocol.Notify(method, arguments);

        public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.StreamAsync(method, arguments, itemFormatter, cancellationToken);

        // The slow paths live in methods of their own: a lambda's closure is allocated on entry to the method whose
        // parameters it captures, so a lambda in the methods above would cost an allocation on the fast path too.
        private Task<TResult> CallAsync<TArguments, TResult>(RpcMethod method, TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.CallAsync(method, arguments, (invoker, args) => invoker.InvokeAsync(method, args, resultFormatter, cancellationToken), cancellationToken);

        private Task<bool> CallAsync<TArguments>(RpcMethod method, TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.CallAsync(method, arguments, (invoker, args) => WithoutResultAsync(invoker.InvokeAsync(method, args, cancellationToken)), cancellationToken);

        private Task<TResult> CallValueTaskAsync<TArguments, TResult>(RpcMethod method, TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.CallAsync(method, arguments, (invoker, args) => invoker.InvokeValueTaskAsync(method, args, resultFormatter, cancellationToken).AsTask(), cancellationToken);

        private Task<bool> CallValueTaskAsync<TArguments>(RpcMethod method, TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> =>
            client.CallAsync(method, arguments, (invoker, args) => WithoutResultAsync(invoker.InvokeValueTaskAsync(method, args, cancellationToken).AsTask()), cancellationToken);
    }
}
