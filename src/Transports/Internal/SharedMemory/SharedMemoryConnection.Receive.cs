using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace Rpc.Transports.Internal.SharedMemory;

internal sealed partial class SharedMemoryConnection
{
    protected override void ReceiveOnDedicatedThread()
    {
        Exception? error = null;
        try
        {
            while (WaitForData(out error))
            {
                // Copies from the ring and, when the runtime waits for bytes, completes its read here: the runtime's read
                // loop runs on this thread until it awaits again.
                if (!_reader.ReceiveFrom(_in))
                {
                    // The runtime completed its reader (or we stop): nothing more is delivered.
                    if (IsDisposing && !IsReceiveStopped)
                    {
                        DrainUntilPeerCloses();
                    }

                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }
        finally
        {
            _reader.CompleteWriting(InputCompletion(error, peerEnded: false));
            ReceiveEnded();
            ReleaseLoop();
        }
    }

    /// <summary>
    /// Waits until the inbound ring holds bytes (true), or the stream ends (false, with <paramref name="end"/> null for an
    /// orderly end or a local stop, else the error).
    /// </summary>
    private bool WaitForData(out Exception? end)
    {
        end = null;
        if (_in.SpinForData())
        {
            return true;
        }

        // About to sleep: an idle connection holds no receive buffer.
        _reader.ReleaseIdleBuffer();
        while (true)
        {
            var signal = _in.PrepareDataWait();

            // Re-check everything after raising the flag: a change from now on also moves the signal word.
            if (_in.Available() != 0)
            {
                _in.EndDataWait();
                return true;
            }

            if (IsReceiveStopped || EndOfStream(out end))
            {
                _in.EndDataWait();
                return false;
            }

            _in.SleepForData(signal, LivenessIntervalMilliseconds);
            if (_in.Available() != 0)
            {
                return true;
            }

            if (PeerGone())
            {
                // The peer's last writes happened before its socket closed: read them, then decide how the stream ended.
                if (_in.Available() != 0)
                {
                    return true;
                }

                if (!EndOfStream(out end))
                {
                    end = PeerLost();
                }

                return false;
            }
        }
    }

    /// <summary>Gets whether the peer has ended its direction: closed (orderly, <paramref name="end"/> null) or aborted.</summary>
    private bool EndOfStream(out Exception? end)
    {
        end = null;
        switch (_in.ProducerState)
        {
            case SpscRing.StateOpen:
                return false;
            case SpscRing.StateClosed:
                // The state was stored after the last head: bytes published before it are visible now, and read first.
                return _in.Available() == 0;
            default:
                end = new IOException($"The connection to {RemoteEndpoint} was reset: the peer aborted it.");
                return true;
        }
    }

    /// <summary>Reads and drops bytes until the peer closes its direction, the peer goes, or we stop (linger expired).</summary>
    private void DrainUntilPeerCloses()
    {
        var scratch = new byte[16 * 1024];
        while (WaitForData(out _))
        {
            while (_in.Read(scratch) != 0)
            {
            }
        }
    }

    /// <summary>
    /// The runtime's <see cref="PipeReader"/>, fed by the receive thread: bytes are copied from the ring into one contiguous
    /// buffer, and a pending <see cref="ReadAsync"/> is completed on the receive thread, so the runtime's read loop runs
    /// there (as with an inline pipe scheduler, without a pipe's locking and segment bookkeeping in between).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The buffer holds bytes [<c>_start</c>, <c>_end</c>); the reader has examined up to <c>_examined</c>. Only the receive
    /// thread appends, and it moves or replaces the buffer only while the reader holds no <see cref="ReadResult"/> (between a
    /// read and its <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>); while it does, the receive thread writes
    /// only past <c>_end</c>, which the reader never sees.
    /// </para>
    /// <para>
    /// Back-pressure: when <see cref="TransportOptions.MaxBufferedInputBytes"/> are buffered and unconsumed, the receive
    /// thread stops taking bytes from the ring until the reader has consumed half of them; the ring fills and the peer's
    /// writer waits. A frame is processed only when complete, so the limit must exceed the largest frame (as for sockets).
    /// </para>
    /// </remarks>
    private sealed class InputReader(SharedMemoryConnection connection, long pauseThreshold) : PipeReader, IValueTaskSource<ReadResult>
    {
        private const int InitialBufferSize = InitialReceiveBufferSize;

        /// <summary>A grown buffer is kept this many emptyings in a row of small use before it shrinks back.</summary>
        private const int ShrinkAfter = 64;

        private readonly object _gate = new();
        private readonly long _resumeThreshold = pauseThreshold / 2;
        private ManualResetValueTaskSourceCore<ReadResult> _read = new() { RunContinuationsAsynchronously = false };
        private CancellationTokenRegistration _readCancellation;
        private CancellationToken _readToken;
        private byte[] _buffer = [];
        private int _preferredSize = InitialBufferSize;
        private int _start;
        private int _end;
        private int _examined;
        private int _smallUses;
        private bool _readPending;
        private bool _readerHolds;
        private bool _cancelNextRead;
        private bool _paused;
        private bool _receiverWaiting;
        private bool _readerCompleted;
        private bool _writingCompleted;
        private Exception? _writingError;

        // ---- Reader side (the runtime) ----

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                if (TryReadUnderLock(out var result))
                {
                    return new ValueTask<ReadResult>(result);
                }

                cancellationToken.ThrowIfCancellationRequested();
                _read.Reset();
                _readPending = true;
                _readToken = cancellationToken;
                if (cancellationToken.CanBeCanceled)
                {
                    _readCancellation = cancellationToken.UnsafeRegister(
                        static (state, token) => ((InputReader)state!).CancelRead(token), this);
                }

                return new ValueTask<ReadResult>(this, _read.Version);
            }
        }

        public override bool TryRead(out ReadResult result)
        {
            lock (_gate)
            {
                return TryReadUnderLock(out result);
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            lock (_gate)
            {
                if (_readerCompleted)
                {
                    throw ReaderCompleted();
                }

                if (!_readerHolds)
                {
                    throw new InvalidOperationException("AdvanceTo was called without a read to advance.");
                }

                var consumedIndex = IndexOf(consumed);
                var examinedIndex = IndexOf(examined);
                if (consumedIndex > examinedIndex)
                {
                    throw new InvalidOperationException("The examined position cannot be before the consumed position.");
                }

                // Examined may move back (nothing examined: the next read returns at once, without waiting for new bytes).
                _start = consumedIndex;
                _examined = examinedIndex;
                _readerHolds = false;
                if (_paused && _end - _start < _resumeThreshold)
                {
                    _paused = false;
                }

                if (_receiverWaiting)
                {
                    Monitor.PulseAll(_gate);
                }
            }
        }

        public override void CancelPendingRead()
        {
            ReadResult result;
            lock (_gate)
            {
                if (!_readPending)
                {
                    _cancelNextRead = true;
                    return;
                }

                _readPending = false;
                result = HoldResult(isCanceled: true);
            }

            CompleteRead(result);
        }

        public override void Complete(Exception? exception = null)
        {
            lock (_gate)
            {
                if (_readerCompleted)
                {
                    return;
                }

                // A read still pending completes when the receive thread ends, which it does now that nobody reads.
                _readerCompleted = true;
                _readerHolds = false;
                if (_writingCompleted)
                {
                    ReturnBuffer();
                }

                Monitor.PulseAll(_gate);
            }
        }

        ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _read.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _read.GetStatus(token);

        void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _read.OnCompleted(continuation, state, token, flags);

        // ---- Writer side (the receive thread) ----

        /// <summary>
        /// Moves what the ring holds into the buffer (waiting while back-pressure applies) and completes a pending read with
        /// it. Returns false when the reader has completed or receiving stops: the receive thread then ends.
        /// </summary>
        public bool ReceiveFrom(SpscRing ring)
        {
            byte[] buffer;
            int offset;
            int room;
            lock (_gate)
            {
                while (true)
                {
                    if (_readerCompleted || connection.IsReceiveStopped)
                    {
                        return false;
                    }

                    room = MakeRoomUnderLock();
                    if (room > 0)
                    {
                        break;
                    }

                    // Back-pressure, or a reader on another thread still holds a full buffer: wait for it to consume.
                    _receiverWaiting = true;
                    Monitor.Wait(_gate, LivenessIntervalMilliseconds);
                    _receiverWaiting = false;
                }

                buffer = _buffer;
                offset = _end;
            }

            // Outside the lock: only this thread writes past _end, and the buffer cannot change under us.
            room = Math.Min(room, MaxReceiveBatch);
            var copied = 0;
            do
            {
                copied += ring.Read(buffer.AsSpan(offset + copied, room - copied));
            }
            while (copied < room && ring.Available() != 0);

            ReadResult result;
            lock (_gate)
            {
                _end += copied;
                if (_end - _start >= pauseThreshold)
                {
                    _paused = true;
                }

                if (!_readPending)
                {
                    return true;
                }

                _readPending = false;
                result = HoldResult(isCanceled: false);
            }

            CompleteRead(result);
            return true;
        }

        /// <summary>Ends the stream: the reader gets what is buffered, then the end (normal when <paramref name="error"/> is null).</summary>
        public void CompleteWriting(Exception? error)
        {
            bool completeRead;
            ReadResult result = default;
            lock (_gate)
            {
                if (_writingCompleted)
                {
                    return;
                }

                _writingCompleted = true;
                _writingError = error;
                completeRead = _readPending;
                _readPending = false;
                if (completeRead && error is null)
                {
                    result = HoldResult(isCanceled: false);
                }

                if (_readerCompleted)
                {
                    ReturnBuffer();
                }
            }

            if (!completeRead)
            {
                return;
            }

            _readCancellation.Unregister();
            if (error is null)
            {
                _read.SetResult(result);
            }
            else
            {
                _read.SetException(error);
            }
        }

        /// <summary>Wakes the receive thread if it waits for the reader, so that it notices a stop.</summary>
        public void Interrupt()
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Called by the receive thread before it sleeps: an empty buffer goes back to the pool.</summary>
        public void ReleaseIdleBuffer()
        {
            lock (_gate)
            {
                if (!_readerHolds && _start == _end && _buffer.Length != 0)
                {
                    ReturnBuffer();
                }
            }
        }

        // ---- Under _gate ----

        private bool TryReadUnderLock(out ReadResult result)
        {
            if (_readerCompleted)
            {
                throw ReaderCompleted();
            }

            if (_readPending)
            {
                throw new InvalidOperationException("A read is already pending; reads must not overlap.");
            }

            if (_readerHolds)
            {
                throw new InvalidOperationException("The previous read was not advanced (AdvanceTo) before reading again.");
            }

            if (_cancelNextRead)
            {
                _cancelNextRead = false;
                result = HoldResult(isCanceled: true);
                return true;
            }

            if (_writingError is not null)
            {
                // As a Pipe does: a writer that failed fails the reader at once.
                throw _writingError;
            }

            if (_end > _examined || _writingCompleted)
            {
                result = HoldResult(isCanceled: false);
                return true;
            }

            result = default;
            return false;
        }

        /// <summary>Gets the buffered bytes as a result the reader now holds until it advances.</summary>
        private ReadResult HoldResult(bool isCanceled)
        {
            _readerHolds = true;
            return new ReadResult(new ReadOnlySequence<byte>(_buffer, _start, _end - _start), isCanceled, _writingCompleted);
        }

        /// <summary>Returns how many bytes the receive thread may append now (0: wait), after resetting, compacting or growing.</summary>
        private int MakeRoomUnderLock()
        {
            if (_paused)
            {
                return 0;
            }

            var buffered = _end - _start;
            if (!_readerHolds)
            {
                if (buffered == 0)
                {
                    // The usual case: everything was consumed, start over at the front.
                    _smallUses = _end <= InitialBufferSize ? _smallUses + 1 : 0;
                    _start = 0;
                    _end = 0;
                    _examined = 0;
                    if (_preferredSize > InitialBufferSize && _smallUses >= ShrinkAfter)
                    {
                        // Large frames stopped coming: go back to the small buffer.
                        _preferredSize = InitialBufferSize;
                        ReturnBuffer();
                    }
                }

                if (_buffer.Length == 0)
                {
                    // After an idle release, take the size we last needed, so a run of large frames does not grow it every time.
                    _buffer = ArrayPool<byte>.Shared.Rent(_preferredSize);
                }
                else if (_buffer.Length - _end < MinimumReceiveSize)
                {
                    // Little room left behind unconsumed bytes (a partial frame, or a reader that fell behind): move them to
                    // the front, or into a larger buffer.
                    var target = _buffer;
                    if (_buffer.Length - buffered < MinimumReceiveSize)
                    {
                        var size = (int)Math.Min(Array.MaxLength, Math.Max(2L * _buffer.Length, (long)buffered + (2 * MinimumReceiveSize)));
                        target = ArrayPool<byte>.Shared.Rent(size);
                        _preferredSize = Math.Max(_preferredSize, target.Length);
                    }

                    _buffer.AsSpan(_start, buffered).CopyTo(target);
                    if (!ReferenceEquals(target, _buffer))
                    {
                        ArrayPool<byte>.Shared.Return(_buffer);
                        _buffer = target;
                    }

                    _examined -= _start;
                    _end = buffered;
                    _start = 0;
                }
            }

            return (int)Math.Min(_buffer.Length - _end, pauseThreshold - buffered);
        }

        private void ReturnBuffer()
        {
            if (_buffer.Length != 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = [];
            _start = 0;
            _end = 0;
            _examined = 0;
        }

        private int IndexOf(SequencePosition position)
        {
            var index = position.GetInteger();
            if (!ReferenceEquals(position.GetObject(), _buffer) || index < _start || index > _end)
            {
                throw new InvalidOperationException("The position is not within the buffer of the last read.");
            }

            return index;
        }

        // ---- Completing the pending read (outside _gate) ----

        private void CompleteRead(ReadResult result)
        {
            _readCancellation.Unregister();

            // Runs the reader's continuation on this thread (RunContinuationsAsynchronously is false).
            _read.SetResult(result);
        }

        private void CancelRead(CancellationToken token)
        {
            lock (_gate)
            {
                // A late callback of an earlier read's token may find a newer read pending: cancel that one only if its own
                // token is cancelled too.
                if (!_readPending || !_readToken.IsCancellationRequested)
                {
                    return;
                }

                _readPending = false;
            }

            _read.SetException(new OperationCanceledException(token));
        }

        private static InvalidOperationException ReaderCompleted() =>
            new("Reading is not allowed after the reader was completed.");
    }
}
