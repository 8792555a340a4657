using System;
using System.Globalization;
using System.Threading;

namespace Rpc.Protocols;

/// <summary>
/// The deadline of the frame a connection is in the middle of receiving (<see cref="RpcConnectionOptions.FrameTimeout"/>).
/// Starting and stopping it only note the time in a field; one timer per connection, created the first time a frame
/// spans reads, checks that note every eighth of the timeout and stops itself once no frame is in progress. So frames
/// that arrive whole cost a field check, and frames that span reads never reprogram a timer (which can wake the runtime's
/// timer thread) except to restart a stopped one.
/// </summary>
internal sealed class FrameDeadline : IDisposable
{
    // The deadline is checked this many times per timeout: a stalled peer is cut within 1⅛ of it.
    private const int ChecksPerTimeout = 8;

    private readonly long _timeoutMilliseconds;
    private readonly TimeSpan _checkPeriod;
    private readonly Action<RpcProtocolException> _onExpired;
    private readonly object _gate = new();
    private Timer? _timer;
    private bool _checking;
    private bool _disposed;

    // Environment.TickCount64 when the frame in progress started, or 0 when none is.
    private long _frameStartedAt;

    private FrameDeadline(TimeSpan timeout, Action<RpcProtocolException> onExpired)
    {
        _timeoutMilliseconds = Math.Max(1, (long)timeout.TotalMilliseconds);
        _checkPeriod = TimeSpan.FromMilliseconds(Math.Max(1, _timeoutMilliseconds / ChecksPerTimeout));
        _onExpired = onExpired;
    }

    /// <summary>Gets whether a frame is being timed.</summary>
    public bool IsArmed => Volatile.Read(ref _frameStartedAt) != 0;

    /// <returns>The deadline, or <see langword="null"/> when <paramref name="timeout"/> is infinite (nothing to time).</returns>
    public static FrameDeadline? Create(TimeSpan timeout, Action<RpcProtocolException> onExpired) =>
        timeout == Timeout.InfiniteTimeSpan ? null : new FrameDeadline(timeout, onExpired);

    /// <summary>Starts the full timeout for a frame whose first bytes have just arrived (restarting any earlier one).</summary>
    public void Start()
    {
        lock (_gate)
        {
            Volatile.Write(ref _frameStartedAt, Environment.TickCount64);
            if (!_checking && !_disposed)
            {
                _checking = true;
                _timer ??= new Timer(static state => ((FrameDeadline)state!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _timer.Change(_checkPeriod, _checkPeriod);
            }
        }
    }

    /// <summary>Stops timing: the frame completed, or reading paused on purpose (the peer is not to blame for that wait).</summary>
    public void Stop()
    {
        if (Volatile.Read(ref _frameStartedAt) != 0)
        {
            Volatile.Write(ref _frameStartedAt, 0);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _checking = false;
            Volatile.Write(ref _frameStartedAt, 0);
            _timer?.Dispose();
        }
    }

    private void Check()
    {
        lock (_gate)
        {
            var startedAt = Volatile.Read(ref _frameStartedAt);
            if (startedAt == 0)
            {
                // No frame in progress: idle until the next one starts.
                if (_checking && !_disposed)
                {
                    _checking = false;
                    _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }

                return;
            }

            if (Environment.TickCount64 - startedAt < _timeoutMilliseconds)
            {
                return;
            }
        }

        _onExpired(new RpcProtocolException(
            $"The peer started a frame and did not complete it within {Describe(_timeoutMilliseconds)} (RpcConnectionOptions.FrameTimeout); disconnecting."));
    }

    private static string Describe(long milliseconds) =>
        (milliseconds / 1000.0).ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
