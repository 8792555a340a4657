using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Diagnostics;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// The stream an observed JSON-RPC call returned, as StreamJsonRpc serves it: the call's server span lasts until the
/// stream ends (its last item, its error, or the caller's <c>$/enumerator/abort</c> or disconnect, when StreamJsonRpc
/// disposes it) instead of ending with the first response, which only carries the enumerator's token.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal static class ObservedJsonRpcStream
{
    /// <summary>Wraps <paramref name="items"/>, an <c>IAsyncEnumerable&lt;T&gt;</c>, so that its end ends <paramref name="observation"/>.</summary>
    /// <returns>The stream to serve in place of <paramref name="items"/>.</returns>
    public static object Wrap(object items, CallObservation observation)
    {
        var enumerableType = Array.Find(items.GetType().GetInterfaces(), static i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>));
        if (enumerableType is null)
        {
            observation.End(errorType: null);
            return items;
        }

        return Activator.CreateInstance(typeof(Observed<>).MakeGenericType(enumerableType.GetGenericArguments()[0]), items, observation)!;
    }

    /// <remarks>
    /// Settings an implementation attached with StreamJsonRpc's <c>WithJsonRpcSettings</c> (batching, read-ahead) are not
    /// carried over: StreamJsonRpc keeps them on a type of its own that no wrapper can be.
    /// </remarks>
    private sealed class Observed<T>(IAsyncEnumerable<T> items, CallObservation observation) : IAsyncEnumerable<T>
    {
        public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
            new Enumerator<T>(items.GetAsyncEnumerator(cancellationToken), observation);
    }

    private sealed class Enumerator<T>(IAsyncEnumerator<T> inner, CallObservation observation) : IAsyncEnumerator<T>
    {
        public T Current => inner.Current;

        public async ValueTask<bool> MoveNextAsync()
        {
            try
            {
                // The implementation's code between items runs under the call's span, as it does on the binary protocol.
                ValueTask<bool> next;
                using (observation.Enter())
                {
                    next = inner.MoveNextAsync();
                }

                var more = await next.ConfigureAwait(false);
                if (!more)
                {
                    observation.End(errorType: null);
                }

                return more;
            }
            catch (Exception exception)
            {
                // What the caller's error object says: the implementation failed, or stopped on its token.
                observation.End(exception is OperationCanceledException ? nameof(RpcErrorCode.Cancelled) : nameof(RpcErrorCode.InvocationFailed), exception.Message);
                throw;
            }
        }

        public ValueTask DisposeAsync()
        {
            // Disposed before its end: the caller abandoned the stream or disconnected.
            observation.End(nameof(RpcErrorCode.Cancelled));
            return inner.DisposeAsync();
        }
    }
}
