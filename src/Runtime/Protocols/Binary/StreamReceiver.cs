using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;
using Rpc.Serialization;

namespace Rpc.Protocols.Binary;

/// <summary>
/// The caller's end of a server-to-client stream. It grants the server a window of items and tops it up as the
/// consumer takes them, so a slow consumer slows the server instead of filling memory: at most one window of items is
/// ever buffered here.
/// </summary>
internal sealed class StreamReceiver<T> : IAsyncEnumerator<T>, IPendingReply<T>, IValueTaskSource<bool>
{
    private readonly BinaryProtocolConnection _connection;
    private readonly int _window;
    private readonly Queue<T> _items = new();
    private readonly CancellationToken _methodToken;
    private readonly CancellationToken _enumeratorToken;
    private CancellationTokenRegistration _methodTokenRegistration;
    private CancellationTokenRegistration _enumeratorTokenRegistration;
    private uint _requestId;
    private ManualResetValueTaskSourceCore<bool> _waiter;
    private bool _waiting;
    private bool _ended;
    private Exception? _error;
    private int _consumedSinceCredit;
    private T _current = default!;

    public StreamReceiver(BinaryProtocolConnection connection, int window, CancellationToken methodToken, CancellationToken enumeratorToken)
    {
        _connection = connection;
        _window = window;
        _methodToken = methodToken;
        _enumeratorToken = enumeratorToken;
        _waiter.RunContinuationsAsynchronously = false;
    }

    /// <summary>Binds the receiver to its request id, once registered, and starts watching the caller's tokens.</summary>
    public void Start(uint requestId)
    {
        _requestId = requestId;
        _methodTokenRegistration = Register(_methodToken);
        _enumeratorTokenRegistration = Register(_enumeratorToken);
    }

    public T Current => _current;

    private object Gate => _items;

    public ValueTask<bool> MoveNextAsync()
    {
        var grantCredit = 0;
        lock (Gate)
        {
            if (_items.TryDequeue(out var item))
            {
                _current = item;
                grantCredit = TakeDueCredit();
            }
            else if (_error is not null)
            {
                return ValueTask.FromException<bool>(_error);
            }
            else if (_ended)
            {
                return new ValueTask<bool>(false);
            }
            else
            {
                _waiter.Reset();
                _waiting = true;
                return new ValueTask<bool>(this, _waiter.Version);
            }
        }

        if (grantCredit > 0)
        {
            _connection.SendStreamCredit(_requestId, grantCredit);
        }

        return new ValueTask<bool>(true);
    }

    public async ValueTask DisposeAsync()
    {
        bool abandoned;
        lock (Gate)
        {
            abandoned = !_ended && _error is null;
            _ended = true;
            _items.Clear();
        }

        await _methodTokenRegistration.DisposeAsync().ConfigureAwait(false);
        await _enumeratorTokenRegistration.DisposeAsync().ConfigureAwait(false);
        if (abandoned)
        {
            _connection.AbandonStream(_requestId);
        }
    }

    public void Deliver(T value)
    {
        var wake = false;
        var grantCredit = 0;
        lock (Gate)
        {
            if (_ended || _error is not null)
            {
                return;
            }

            if (_waiting)
            {
                // The consumer is parked in MoveNextAsync: hand it the item directly.
                _waiting = false;
                wake = true;
                _current = value;
                grantCredit = TakeDueCredit();
            }
            else if (_items.Count >= _window)
            {
                throw new RpcProtocolException($"The peer sent more stream items than the {_window} granted.");
            }
            else
            {
                _items.Enqueue(value);
            }
        }

        if (grantCredit > 0)
        {
            _connection.SendStreamCredit(_requestId, grantCredit);
        }

        if (wake)
        {
            _waiter.SetResult(true);
        }
    }

    public void Complete() => Finish(error: null);

    public void Fail(Exception exception) => Finish(exception);

    public void Cancel(CancellationToken cancellationToken) => Finish(new OperationCanceledException(cancellationToken));

    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);

    private void Finish(Exception? error)
    {
        bool wake;
        lock (Gate)
        {
            if (_ended || _error is not null)
            {
                return;
            }

            if (error is null)
            {
                _ended = true;
            }
            else
            {
                _error = error;
                _items.Clear();
            }

            wake = TakeWaiter();
        }

        if (wake)
        {
            if (error is null)
            {
                _waiter.SetResult(false);
            }
            else
            {
                _waiter.SetException(error);
            }
        }
    }

    private bool TakeWaiter()
    {
        var wake = _waiting;
        _waiting = false;
        return wake;
    }

    /// <summary>Counts one consumed item; every half window, returns the credit to send (else 0).</summary>
    private int TakeDueCredit()
    {
        if (++_consumedSinceCredit < Math.Max(1, _window / 2))
        {
            return 0;
        }

        var grant = _consumedSinceCredit;
        _consumedSinceCredit = 0;
        return grant;
    }

    private CancellationTokenRegistration Register(CancellationToken token) =>
        token.CanBeCanceled
            ? token.UnsafeRegister(static (state, token) => ((StreamReceiver<T>)state!).OnCallerCancelled(token), this)
            : default;

    // Through the connection's pending call, which may be the observed wrapper of this receiver: its span ends too.
    private void OnCallerCancelled(CancellationToken token) => _connection.OnCallerCancelled(_requestId, token);
}
