using System;
using System.Globalization;
using System.Threading;

namespace Rpc.Protocols;

/// <summary>
/// The deadline of the frame a connection is in the middle of receiving (<see cref="RpcConnectionOptions.FrameTimeout"/>):
/// one timer per connection, created the first time a frame spans reads and touched only while frames do, so frames that
/// arrive whole cost a field check.
/// </summary>
internal sealed class FrameDeadline : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly Action<RpcProtocolException> _onExpired;
    private readonly object _gate = new();
    private Timer? _timer;
    private volatile bool _armed;
    private bool _disposed;

    private FrameDeadline(TimeSpan timeout, Action<RpcProtocolException> onExpired)
    {
        _timeout = timeout;
        _onExpired = onExpired;
    }

    /// <summary>Gets whether a frame is being timed.</summary>
    public bool IsArmed => _armed;

    /// <returns>The deadline, or <see langword="null"/> when <paramref name="timeout"/> is infinite (nothing to time).</returns>
    public static FrameDeadline? Create(TimeSpan timeout, Action<RpcProtocolException> onExpired) =>
        timeout == Timeout.InfiniteTimeSpan ? null : new FrameDeadline(timeout, onExpired);

    /// <summary>Starts the full timeout for a frame whose first bytes have just arrived (restarting any earlier one).</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _armed = true;
            _timer ??= new Timer(static state => ((FrameDeadline)state!).Expire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(_timeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Stops timing: the frame completed, or reading paused on purpose (the peer is not to blame for that wait).</summary>
    public void Stop()
    {
        if (!_armed)
        {
            return;
        }

        lock (_gate)
        {
            _armed = false;
            if (!_disposed)
            {
                _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _armed = false;
            _timer?.Dispose();
        }
    }

    private void Expire()
    {
        // A frame that completed while the timer was firing has disarmed it: nothing to report.
        if (_armed)
        {
            _onExpired(new RpcProtocolException(
                $"The peer started a frame and did not complete it within {Describe(_timeout)} (RpcConnectionOptions.FrameTimeout); disconnecting."));
        }
    }

    private static string Describe(TimeSpan timeout) =>
        timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
