using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Diagnostics;
using Rpc.Runtime;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// The stream a streaming proxy method returns over JSON-RPC: each enumeration sends the request (StreamJsonRpc's
/// <c>IAsyncEnumerable</c> support answers with an enumerator token, then the items are pulled with
/// <c>$/enumerator/next</c>), and every failure is translated into Rpc's exceptions. An observed enumeration is one
/// client span and one duration, like a binary stream's: from the request to the last item, the error, the consumer's
/// early dispose (<c>Cancelled</c>) or the connection's loss, whichever comes first.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class JsonRpcStream<TItem>(JsonRpcProtocolConnection connection, RpcMethod method, object?[] arguments, CancellationToken methodToken)
    : IAsyncEnumerable<TItem>
{
    public IAsyncEnumerator<TItem> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (methodToken.IsCancellationRequested || cancellationToken.IsCancellationRequested)
        {
            return new Enumerator(connection, new OperationCanceledException(methodToken.IsCancellationRequested ? methodToken : cancellationToken));
        }

        // The deadline bounds the whole stream: its timer runs from here until the enumerator is disposed.
        var timeout = RpcCallOptions.TimeoutOf(method, connection.Options);
        var deadline = timeout == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(timeout, connection.Options.TimeProvider);
        CancellationTokenSource? linked = null;
        var token = methodToken;
        if (deadline is not null)
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(methodToken, cancellationToken, deadline.Token);
            token = linked.Token;
        }
        else if (methodToken.CanBeCanceled && cancellationToken.CanBeCanceled)
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(methodToken, cancellationToken);
            token = linked.Token;
        }
        else if (cancellationToken.CanBeCanceled)
        {
            token = cancellationToken;
        }

        if (connection.IsClosed)
        {
            linked?.Dispose();
            deadline?.Dispose();
            return new Enumerator(connection, connection.Translate(new StreamJsonRpc.ConnectionLostException(), token));
        }

        return new Enumerator(connection, method, arguments, linked, deadline, token, methodToken, cancellationToken);
    }

    private sealed class Enumerator : IAsyncEnumerator<TItem>
    {
        private readonly JsonRpcProtocolConnection _connection;
        private readonly Task<IAsyncEnumerable<TItem>>? _start;
        private readonly Exception? _error;
        private readonly CancellationToken _token;
        private readonly CancellationTokenSource? _linked;
        private readonly RpcMethod? _method;
        private readonly CancellationTokenSource? _deadline;
        private readonly CancellationToken _methodToken;
        private readonly CancellationToken _enumeratorToken;
        private readonly CallObservation? _observation;
        private readonly CancellationTokenRegistration _connectionClosedRegistration;
        private IAsyncEnumerator<TItem>? _inner;

        public Enumerator(JsonRpcProtocolConnection connection, Exception error)
        {
            _connection = connection;
            _error = error;
        }

        public Enumerator(
            JsonRpcProtocolConnection connection, RpcMethod method, object?[] arguments, CancellationTokenSource? linked, CancellationTokenSource? deadline,
            CancellationToken token, CancellationToken methodToken, CancellationToken enumeratorToken)
        {
            _connection = connection;
            _token = token;
            _linked = linked;
            _method = method;
            _deadline = deadline;
            _methodToken = methodToken;
            _enumeratorToken = enumeratorToken;
            if (connection.Telemetry.IsClientObserved)
            {
                _observation = CallObservation.StartClient(connection.Telemetry, method);

                // A consumer parked between items would otherwise keep the span open past the connection.
                _connectionClosedRegistration = connection.ClosingToken.UnsafeRegister(
                    static state =>
                    {
                        var enumerator = (Enumerator)state!;
                        enumerator._observation!.End(enumerator._connection.Translate(new StreamJsonRpc.ConnectionLostException(), CancellationToken.None));
                    },
                    this);
            }

            try
            {
                // The request carries the stream's span as its trace context (JsonRpcTraceContext reads the current one).
                using var traced = _observation is null ? default : _observation.Enter();
                _start = connection.Rpc.InvokeWithCancellationAsync<IAsyncEnumerable<TItem>>(method.WireName, arguments, token);
            }
            catch (Exception exception)
            {
                _error = connection.Translate(exception, token);
                _observation?.End(_error);
            }
        }

        public TItem Current { get; private set; } = default!;

        public async ValueTask<bool> MoveNextAsync()
        {
            if (_error is not null)
            {
                throw _error;
            }

            try
            {
                _token.ThrowIfCancellationRequested();
                if (_inner is null)
                {
                    var enumerable = await _start!.ConfigureAwait(false);
                    _inner = enumerable.GetAsyncEnumerator(_token);
                }

                if (!await _inner.MoveNextAsync().ConfigureAwait(false))
                {
                    _observation?.End(errorType: null);
                    return false;
                }

                Current = _inner.Current;
                return true;
            }
            catch (Exception exception)
            {
                var translated = _connection.Translate(exception, _token);
                if (translated is OperationCanceledException && _deadline is { IsCancellationRequested: true }
                    && !_methodToken.IsCancellationRequested && !_enumeratorToken.IsCancellationRequested)
                {
                    translated = RpcCallOptions.DeadlineExceeded(_method!, translated);
                }

                _observation?.End(translated);
                throw translated;
            }
        }

        public async ValueTask DisposeAsync()
        {
            // Stopped before the end: the stream's span ends as a cancelled call's.
            _observation?.End(nameof(RpcErrorCode.Cancelled));
            await _connectionClosedRegistration.DisposeAsync().ConfigureAwait(false);
            try
            {
                if (_inner is not null)
                {
                    // Tells the server to stop producing ($/enumerator/abort) unless the stream already ended.
                    await _inner.DisposeAsync().ConfigureAwait(false);
                }
                else if (_start is not null)
                {
                    // Never enumerated: release the server's enumerator once (and if) the reply arrives, without waiting.
                    _ = _start.ContinueWith(
                        static async t =>
                        {
                            if (t.IsCompletedSuccessfully)
                            {
                                try
                                {
                                    await t.Result.GetAsyncEnumerator().DisposeAsync().ConfigureAwait(false);
                                }
                                catch (Exception)
                                {
                                    // Closed meanwhile: the server releases it on disconnect.
                                }
                            }
                            else
                            {
                                _ = t.Exception;
                            }
                        },
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                }
            }
            catch (Exception)
            {
                // The connection is gone: the server releases the stream on disconnect.
            }
            finally
            {
                _linked?.Dispose();
                _deadline?.Dispose();
            }
        }
    }
}
