using System;
using System.Globalization;
using System.Threading;

namespace Rpc.Protocols;

/// <summary>
/// Dead-peer detection of one connection (<see cref="RpcConnectionOptions.KeepAliveInterval"/>): after an interval in which
/// nothing arrived, a ping; when nothing at all arrives within the timeout after it, the connection is closed.
/// </summary>
/// <remarks>
/// The receive path only sets a flag per read batch (<see cref="Received"/>); one timer per connection, reprogrammed once
/// per interval, looks at it. So a ping leaves after between one and two intervals of silence, and a dead peer is found
/// within two intervals plus the timeout. Any bytes count as a sign of life, not only the answer to the ping: a peer busy
/// sending a large frame is alive.
/// </remarks>
internal sealed class KeepAlive : IDisposable
{
    /// <summary>The JSON-RPC method of a ping (JSON-RPC 2.0 reserves the <c>rpc.</c> prefix for such extensions).</summary>
    public const string JsonRpcPingMethod = "rpc.ping";

    private readonly TimeSpan _interval;
    private readonly TimeSpan _timeout;
    private readonly Action _sendPing;
    private readonly Action<KeepAliveTimeoutException> _onTimeout;
    private readonly ITimer _timer;
    private readonly object _gate = new();
    private bool _received;
    private bool _readingPaused;
    private bool _awaitingReply;
    private bool _disposed;

    private KeepAlive(TimeSpan interval, RpcConnectionOptions options, Action sendPing, Action<KeepAliveTimeoutException> onTimeout)
    {
        _interval = interval;
        _timeout = options.KeepAliveTimeout;
        _sendPing = sendPing;
        _onTimeout = onTimeout;
        _timer = options.TimeProvider.CreateTimer(static state => ((KeepAlive)state!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <returns>The keepalive, not yet started, or <see langword="null"/> when <paramref name="interval"/> is infinite.</returns>
    public static KeepAlive? Create(TimeSpan interval, RpcConnectionOptions options, Action sendPing, Action<KeepAliveTimeoutException> onTimeout) =>
        interval == Timeout.InfiniteTimeSpan ? null : new KeepAlive(interval, options, sendPing, onTimeout);

    /// <summary>Starts watching: the first check comes one interval from now.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _timer.Change(_interval, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Notes that bytes arrived from the peer (once per read, not per frame).</summary>
    public void Received() => Volatile.Write(ref _received, true);

    /// <summary>
    /// Notes that this side stops reading on purpose (back-pressure), or resumes: meanwhile the peer is not to blame for
    /// the silence, and its answers wait unread.
    /// </summary>
    public void SetReadingPaused(bool paused)
    {
        Volatile.Write(ref _readingPaused, paused);
        Volatile.Write(ref _received, true);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer.Dispose();
        }
    }

    private void Check()
    {
        bool ping;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var alive = Volatile.Read(ref _received) || Volatile.Read(ref _readingPaused);
            Volatile.Write(ref _received, false);
            if (alive)
            {
                _awaitingReply = false;
                _timer.Change(_interval, Timeout.InfiniteTimeSpan);
                return;
            }

            ping = !_awaitingReply;
            if (ping)
            {
                _awaitingReply = true;
                _timer.Change(_timeout, Timeout.InfiniteTimeSpan);
            }
        }

        if (ping)
        {
            _sendPing();
            return;
        }

        _onTimeout(new KeepAliveTimeoutException(
            $"Nothing arrived from the peer for {Describe(_interval)} and then nothing within {Describe(_timeout)} of a keepalive ping " +
            "(RpcConnectionOptions.KeepAliveInterval, KeepAliveTimeout): the peer's process is stopped or hung, its machine is gone, or the network " +
            "between is down; disconnecting."));
    }

    private static string Describe(TimeSpan time) => time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
