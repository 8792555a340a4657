using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// The stream a streaming proxy method returns over JSON-RPC: each enumeration sends the request (StreamJsonRpc's
/// <c>IAsyncEnumerable</c> support answers with an enumerator token, then the items are pulled with
/// <c>$/enumerator/next</c>), and every failure is translated into Rpc's exceptions.
/// </summary>
[RequiresDynamicCode(JsonRpcProtocolConnection.DynamicCodeReason)]
[RequiresUnreferencedCode(JsonRpcProtocolConnection.UnreferencedCodeReason)]
internal sealed class JsonRpcStream<TItem>(JsonRpcProtocolConnection connection, string wireName, object?[] arguments, CancellationToken methodToken)
    : IAsyncEnumerable<TItem>
{
    public IAsyncEnumerator<TItem> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (methodToken.IsCancellationRequested || cancellationToken.IsCancellationRequested)
        {
            return new Enumerator(connection, new OperationCanceledException(methodToken.IsCancellationRequested ? methodToken : cancellationToken));
        }

        CancellationTokenSource? linked = null;
        var token = methodToken;
        if (methodToken.CanBeCanceled && cancellationToken.CanBeCanceled)
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
            return new Enumerator(connection, connection.Translate(new StreamJsonRpc.ConnectionLostException(), token));
        }

        return new Enumerator(connection, wireName, arguments, linked, token);
    }

    private sealed class Enumerator : IAsyncEnumerator<TItem>
    {
        private readonly JsonRpcProtocolConnection _connection;
        private readonly Task<IAsyncEnumerable<TItem>>? _start;
        private readonly Exception? _error;
        private readonly CancellationToken _token;
        private readonly CancellationTokenSource? _linked;
        private IAsyncEnumerator<TItem>? _inner;

        public Enumerator(JsonRpcProtocolConnection connection, Exception error)
        {
            _connection = connection;
            _error = error;
        }

        public Enumerator(JsonRpcProtocolConnection connection, string wireName, object?[] arguments, CancellationTokenSource? linked, CancellationToken token)
        {
            _connection = connection;
            _token = token;
            _linked = linked;
            try
            {
                _start = connection.Rpc.InvokeWithCancellationAsync<IAsyncEnumerable<TItem>>(wireName, arguments, token);
            }
            catch (Exception exception)
            {
                _error = connection.Translate(exception, token);
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
                    return false;
                }

                Current = _inner.Current;
                return true;
            }
            catch (Exception exception)
            {
                throw _connection.Translate(exception, _token);
            }
        }

        public async ValueTask DisposeAsync()
        {
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
            }
        }
    }
}
