using System;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Connections;

/// <summary>
/// The lifecycle every connection shares, whatever moves its bytes (sockets and pipes through <see cref="DuplexPipeConnection"/>,
/// shared memory through its own reader and writer): the receive thread, abort with its reason, the idempotent dispose
/// (complete the output, stop reading, linger for the peer's close, release), and how the input completes.
/// </summary>
/// <remarks>
/// It holds no buffer and runs on no per-message path: subclasses keep their own data paths and only report here when a
/// loop ends. One lock (<see cref="StateLock"/>) orders abort, the local stop of receiving, and each transport's close.
/// </remarks>
internal abstract class ConnectionLifetime : TransportConnection
{
    /// <summary>How long <see cref="DisposeAsync"/> keeps reading, after our side is done, for the peer to close its side.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromMilliseconds(500);

    private readonly Lock _stateLock = new();
    private readonly TaskCompletionSource _receiveDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposeDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _abortReason;
    private volatile bool _aborted;
    private volatile bool _receiveStopped;
    private volatile bool _disposing;
    private int _disposeStarted;

    /// <summary>Guards the lifecycle state; <see cref="AbortUnderLock"/> and <see cref="StopReceivingUnderLock"/> run under it.</summary>
    protected Lock StateLock => _stateLock;

    /// <summary>Gets whether <see cref="Abort"/> has run.</summary>
    protected bool IsAborted => _aborted;

    /// <summary>Gets whether we stopped receiving ourselves (abort, or dispose after the linger).</summary>
    protected bool IsReceiveStopped => _receiveStopped;

    /// <summary>Gets whether <see cref="DisposeAsync"/> has started.</summary>
    protected bool IsDisposing => _disposing;

    /// <summary>
    /// Gets whether the transport's OS object is closed, so that an abort has nothing left to do; read under
    /// <see cref="StateLock"/>. By default: once receiving stopped (the stop closes it).
    /// </summary>
    protected virtual bool IsClosed => _receiveStopped;

    public sealed override void Abort(Exception? reason = null)
    {
        lock (_stateLock)
        {
            if (_aborted || IsClosed)
            {
                return;
            }

            _abortReason = reason;
            _aborted = true;
            _receiveStopped = true;
            AbortUnderLock();
        }

        AbortOutsideLock(reason);
    }

    public sealed override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _ = DisposeCoreAsync();
        }

        return new ValueTask(_disposeDone.Task);
    }

    /// <summary>Starts the dedicated receive thread (background, 1 MiB stack) running <see cref="ReceiveOnDedicatedThread"/>.</summary>
    protected void StartReceiveThread(string name)
    {
        var thread = new Thread(static state => ((ConnectionLifetime)state!).ReceiveOnDedicatedThread(), maxStackSize: 1024 * 1024)
        {
            IsBackground = true,
            Name = name,
        };
        thread.UnsafeStart(this);
    }

    /// <summary>The body of the dedicated receive thread; it ends with <see cref="ReceiveEnded"/>.</summary>
    protected virtual void ReceiveOnDedicatedThread() => throw new NotSupportedException();

    /// <summary>Reports that the receive loop has ended and completed the input.</summary>
    protected void ReceiveEnded() => _receiveDone.TrySetResult();

    /// <summary>Called once by <see cref="Abort"/>, under <see cref="StateLock"/>: closes what must be closed at once and wakes every waiter.</summary>
    protected abstract void AbortUnderLock();

    /// <summary>Called once by <see cref="Abort"/>, after <see cref="AbortUnderLock"/> and outside the lock.</summary>
    protected virtual void AbortOutsideLock(Exception? reason)
    {
    }

    /// <summary>First step of dispose: completes the output and waits until what was written is sent and our side half-closed.</summary>
    protected abstract ValueTask CompleteOutputAsync();

    /// <summary>Second step of dispose: completes the runtime's reader (we read no more); releases a receive loop held by back-pressure.</summary>
    protected abstract void CompleteInput();

    /// <summary>
    /// Third step of dispose, once we read no more: ends the receive loop. By default the loop keeps reading and discarding
    /// until the peer closes too, for up to <see cref="LingerTimeout"/> (closing with unread bytes would turn our orderly
    /// close into an error at the peer), then receiving stops.
    /// </summary>
    protected virtual async Task StopReceivingAsync()
    {
        try
        {
            await _receiveDone.Task.WaitAsync(LingerTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        StopReceiving();
    }

    /// <summary>Stops receiving once (unless aborted or closed already): <see cref="StopReceivingUnderLock"/>, then <see cref="AfterStopReceiving"/>.</summary>
    protected void StopReceiving()
    {
        lock (_stateLock)
        {
            if (_receiveStopped || IsClosed)
            {
                return;
            }

            _receiveStopped = true;
            StopReceivingUnderLock();
        }

        AfterStopReceiving();
    }

    /// <summary>Under <see cref="StateLock"/>: wakes the receive loop so that it ends (closing the OS object where that is how).</summary>
    protected abstract void StopReceivingUnderLock();

    /// <summary>Called by <see cref="StopReceiving"/> outside the lock.</summary>
    protected virtual void AfterStopReceiving()
    {
    }

    /// <summary>Last step of dispose: releases what outlives both loops.</summary>
    protected virtual ValueTask ReleaseAsync() => default;

    /// <summary>
    /// Maps how the receive loop ended, when neither our abort nor our own stop ended it, to the input's completion:
    /// <see langword="null"/> for a clean end of stream, otherwise the exception the runtime's reader sees.
    /// </summary>
    /// <param name="error">What the receive threw, or <see langword="null"/>.</param>
    /// <param name="peerEnded">The stream ended at the peer: end of stream, or an <see cref="System.IO.IOException"/>.</param>
    protected virtual Exception? InputError(Exception? error, bool peerEnded) => error;

    /// <summary>Decides how the input completes once the receive loop ends: the abort's reason, nothing after our own stop, else <see cref="InputError"/>.</summary>
    protected Exception? InputCompletion(Exception? error, bool peerEnded)
    {
        lock (_stateLock)
        {
            if (_aborted)
            {
                return _abortReason;
            }

            if (_receiveStopped || _disposing)
            {
                // Our own close interrupted the receive: not an error for anyone still reading.
                return null;
            }
        }

        return InputError(error, peerEnded);
    }

    /// <summary>Gets the reason <see cref="Abort"/> was given, or <see langword="null"/>.</summary>
    protected Exception? AbortReason()
    {
        lock (_stateLock)
        {
            return _aborted ? _abortReason : null;
        }
    }

    private async Task DisposeCoreAsync()
    {
        try
        {
            _disposing = true;
            await CompleteOutputAsync().ConfigureAwait(false);
            CompleteInput();
            await StopReceivingAsync().ConfigureAwait(false);
            await _receiveDone.Task.ConfigureAwait(false);
            await ReleaseAsync().ConfigureAwait(false);
        }
        finally
        {
            _disposeDone.TrySetResult();
        }
    }
}
