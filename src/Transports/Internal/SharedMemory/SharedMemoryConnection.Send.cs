using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.SharedMemory;

internal sealed partial class SharedMemoryConnection
{
    /// <summary>Bytes the output buffers by default; a write that does not fit spills into the ring, or grows it.</summary>
    private const int OutputBufferSize = 16 * 1024;

    /// <summary>
    /// Spilled bytes are published at once while the peer is awake (it copies them out while we write the rest), and the
    /// first ones of a flush always (a sleeping peer's wake-up then overlaps with our writing), but otherwise gather up to
    /// this many while the peer sleeps, so that a large frame costs a few wake-ups, not one per buffer (on a busy machine
    /// the peer falls asleep again between pieces).
    /// </summary>
    private const int SpillPublishBytes = 256 * 1024;

    private static readonly FlushResult FlushedResult = new(isCanceled: false, isCompleted: false);
    private static readonly FlushResult WriterEndedResult = new(isCanceled: false, isCompleted: true);
    private static readonly FlushResult CanceledResult = new(isCanceled: true, isCompleted: false);

    /// <summary>
    /// The runtime's <see cref="PipeWriter"/>. Writes land in a private buffer; <see cref="FlushAsync"/> copies them into the
    /// outbound ring on the caller's thread and publishes them with one head update (one wake-up of the peer at most). No
    /// pipe and no send loop sit in between. A full ring makes the flush wait (spin, then futex) for the peer to consume:
    /// that is the back-pressure.
    /// </summary>
    /// <remarks>
    /// <para>
    /// One thread at a time writes (the <see cref="PipeWriter"/> contract); <see cref="Complete"/> and the connection's
    /// <see cref="Internal.Connections.ConnectionLifetime.Abort"/> may come from any thread. Whoever copies into the ring holds <c>_sending</c> (under
    /// <c>StateLock</c>), so there is one producer at a time, and the mapping is released only after the writer has
    /// ended and nobody holds it.
    /// </para>
    /// <para>
    /// Buffers are plain arrays, never pooled: a <see cref="Complete"/> on another thread may read the committed bytes
    /// while the writing thread still holds a span past them, so no array may be handed to anyone else meanwhile.
    /// </para>
    /// </remarks>
    private sealed class OutputWriter(SharedMemoryConnection connection) : PipeWriter
    {
        private byte[] _buffer = GC.AllocateUninitializedArray<byte>(OutputBufferSize);

        // Bytes [_head, _tail) are committed (advanced) but not yet in the ring. _tail is written by the writing thread
        // (volatile, so a completing thread sees the bytes before the count); _head by whoever holds _sending.
        private int _head;
        private int _tail;
        private volatile bool _completed;
        private Exception? _completionError;
        private bool _cancelNextFlush;

        // Holder of _sending only: spilled bytes were published since the last flush.
        private bool _spillPublished;

        // Writing thread only: bytes spilled into the ring since the last flush. They left [_head, _tail) but are still
        // unflushed to the writer, as in a Pipe: the runtime counts what it sends by UnflushedBytes before each flush.
        private long _spilledSinceFlush;

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _spilledSinceFlush + Volatile.Read(ref _tail) - _head;

        public override void Advance(int bytes)
        {
            ThrowIfCompleted();
            var tail = _tail;
            if ((uint)bytes > (uint)(_buffer.Length - tail))
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Advanced past the end of the buffer returned by GetMemory/GetSpan.");
            }

            Volatile.Write(ref _tail, tail + bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            EnsureSpace(sizeHint);
            return _buffer.AsMemory(_tail);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            EnsureSpace(sizeHint);
            return _buffer.AsSpan(_tail);
        }

        public override void CancelPendingFlush()
        {
            // A flush never stays pending (it copies synchronously), so this cancels the next one, as a Pipe does.
            lock (connection.StateLock)
            {
                _cancelNextFlush = true;
            }
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (connection.StateLock)
            {
                if (_cancelNextFlush)
                {
                    _cancelNextFlush = false;
                    return new ValueTask<FlushResult>(CanceledResult);
                }

                ThrowIfCompleted();
                if (connection._writerEnded)
                {
                    return new ValueTask<FlushResult>(EndedResult());
                }

                if (_head == Volatile.Read(ref _tail) && connection._out.Unpublished == 0)
                {
                    // Whatever was spilled is already published: this flush has nothing left to copy.
                    _spilledSinceFlush = 0;
                    return new ValueTask<FlushResult>(FlushedResult);
                }

                connection._sending = true;
            }

            return new ValueTask<FlushResult>(SendHeld(ReadOnlySpan<byte>.Empty));
        }

        /// <summary>Write and flush in one: a large payload goes straight into the ring instead of through the buffer.</summary>
        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (source.Length <= _buffer.Length - _tail)
            {
                source.Span.CopyTo(_buffer.AsSpan(_tail));
                Advance(source.Length);
                return FlushAsync(cancellationToken);
            }

            bool sending;
            lock (connection.StateLock)
            {
                ThrowIfCompleted();
                if (connection._writerEnded)
                {
                    return new ValueTask<FlushResult>(EndedResult());
                }

                sending = !_cancelNextFlush;
                connection._sending |= sending;
            }

            if (!sending)
            {
                // A cancelled flush still keeps the bytes, to be sent by the next one.
                this.Write(source.Span);
                return FlushAsync(cancellationToken);
            }

            return new ValueTask<FlushResult>(SendHeld(source.Span));
        }

        public override void Complete(Exception? exception = null)
        {
            lock (connection.StateLock)
            {
                if (_completed)
                {
                    return;
                }

                _completionError = exception;
                _completed = true;
                if (connection._sending || connection._writerEnded)
                {
                    // Whoever is copying finishes the job when it lets go (or the writer has already ended).
                    return;
                }

                connection._sending = true;
            }

            FinishHeld();
        }

        /// <summary>
        /// Holding <c>_sending</c>: copies the committed bytes, then <paramref name="extra"/>, into the ring (waiting for space),
        /// lets go, and finishes a completion that arrived meanwhile. Throws what made the send fail, after aborting.
        /// </summary>
        private FlushResult SendHeld(ReadOnlySpan<byte> extra)
        {
            Exception? error = null;
            try
            {
                connection.CheckPeerReads();
                CopyToRing(wait: true);
                if (!extra.IsEmpty)
                {
                    connection.WriteToRing(extra);
                }

                connection._out.Publish();
                _spillPublished = false;
                _spilledSinceFlush = 0;
            }
            catch (Exception ex)
            {
                error = ex;
            }

            if (error is not null)
            {
                throw Fail(error);
            }

            bool finish;
            FlushResult result;
            lock (connection.StateLock)
            {
                ResetIfEmpty();
                finish = _completed || connection.IsAborted;
                result = connection.IsAborted ? WriterEndedResult : FlushedResult;
                connection._sending = finish;
            }

            if (finish)
            {
                FinishHeld();
            }

            return result;
        }

        /// <summary>
        /// Holding <c>_sending</c>, once the writer is completed or the connection aborted: sends what is left (unless
        /// aborted: unsent bytes are dropped), marks our direction closed, and ends the writer.
        /// </summary>
        private void FinishHeld()
        {
            try
            {
                if (!connection.IsAborted)
                {
                    if (_completionError is { } completionError)
                    {
                        // The runtime completed its output with an error: like a reset, the peer must not see a clean end.
                        connection.Abort(connection.InputCompletion(completionError, peerEnded: false) ?? completionError);
                    }
                    else if (_completed)
                    {
                        if (_head != Volatile.Read(ref _tail))
                        {
                            connection.CheckPeerReads();
                            CopyToRing(wait: true);
                        }

                        // Every byte is visible before the state says "closed".
                        connection._out.Publish();
                        connection.ShutdownSend();
                    }
                }
            }
            catch (Exception ex)
            {
                var lost = connection.InputCompletion(ex, peerEnded: false) ?? ex;
                connection.Abort(lost);
            }

            connection.EndWriter();
        }

        /// <summary>Records a failed send: aborts the connection (the receive side learns from that) and ends the writer.</summary>
        private Exception Fail(Exception error)
        {
            var lost = connection.InputCompletion(error, peerEnded: false) ?? error;
            lock (connection.StateLock)
            {
                connection._sendError ??= lost;
            }

            connection.Abort(lost);
            connection.EndWriter();
            return lost;
        }

        private FlushResult EndedResult() => connection._sendError is { } error ? throw error : WriterEndedResult;

        /// <summary>Makes room for <paramref name="sizeHint"/> bytes after <see cref="_tail"/>; never waits for the peer.</summary>
        private void EnsureSpace(int sizeHint)
        {
            ThrowIfCompleted();
            var needed = Math.Max(sizeHint, 1);
            if (_buffer.Length - _tail >= needed)
            {
                return;
            }

            // Usually a large frame being written: move what is committed into the ring if it has room now, so the peer
            // starts reading while we are still writing, instead of growing the buffer.
            TrySpill();
            lock (connection.StateLock)
            {
                ThrowIfCompleted();
                if (connection._writerEnded)
                {
                    // Aborted or failed: whatever is written from now on is dropped.
                    _head = 0;
                    _tail = 0;
                }

                ResetIfEmpty();
                var unsent = _tail - _head;
                if (_buffer.Length - _tail >= needed)
                {
                    return;
                }

                var target = _buffer;
                if (_buffer.Length - unsent < needed)
                {
                    var size = (int)Math.Min(Array.MaxLength, Math.Max(2L * _buffer.Length, (long)unsent + needed));
                    target = GC.AllocateUninitializedArray<byte>(size);
                }

                _buffer.AsSpan(_head, unsent).CopyTo(target);
                _buffer = target;
                _head = 0;
                Volatile.Write(ref _tail, unsent);
            }
        }

        /// <summary>Copies as much of the committed bytes as the ring takes right now, without waiting.</summary>
        private void TrySpill()
        {
            lock (connection.StateLock)
            {
                if (_completed || connection._writerEnded || connection._sending || _head == _tail)
                {
                    return;
                }

                connection._sending = true;
            }

            Exception? error = null;
            try
            {
                connection.CheckPeerReads();
                var head = _head;
                CopyToRing(wait: false);
                _spilledSinceFlush += _head - head;
                var ring = connection._out;
                if (!_spillPublished || !ring.ConsumerSleeps || ring.Unpublished >= SpillPublishBytes)
                {
                    ring.Publish();
                    _spillPublished = true;
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }

            if (error is not null)
            {
                // Reported by the next flush, which throws it; the bytes are dropped.
                _ = Fail(error);
                return;
            }

            bool finish;
            lock (connection.StateLock)
            {
                ResetIfEmpty();
                finish = _completed || connection.IsAborted;
                connection._sending = finish;
            }

            if (finish)
            {
                FinishHeld();
            }
        }

        /// <summary>
        /// Holding <c>_sending</c>: copies [<see cref="_head"/>, <see cref="_tail"/>) into the ring, unpublished (the caller
        /// publishes), except that a full ring is published before waiting for the peer to make room.
        /// </summary>
        private void CopyToRing(bool wait)
        {
            var tail = Volatile.Read(ref _tail);
            while (_head < tail)
            {
                var written = connection._out.Write(_buffer.AsSpan(_head, tail - _head), publish: false);
                _head += written;
                if (written == 0)
                {
                    if (!wait)
                    {
                        return;
                    }

                    connection._out.Publish();
                    connection.WaitForSpace();
                }
            }
        }

        /// <summary>Under the lock: once everything committed is in the ring, start the buffer over (and give back a grown one).</summary>
        private void ResetIfEmpty()
        {
            if (_head != _tail)
            {
                return;
            }

            _head = 0;
            Volatile.Write(ref _tail, 0);
            if (_buffer.Length > OutputBufferSize && !_completed)
            {
                _buffer = GC.AllocateUninitializedArray<byte>(OutputBufferSize);
            }
        }

        private void ThrowIfCompleted()
        {
            if (_completed)
            {
                throw new InvalidOperationException("Writing is not allowed after the writer was completed.");
            }
        }
    }

    /// <summary>Copies all of <paramref name="source"/> into the ring (unpublished, like <c>CopyToRing</c>), waiting for space as needed.</summary>
    private void WriteToRing(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var written = _out.Write(source, publish: false);
            if (written == 0)
            {
                _out.Publish();
                WaitForSpace();
                continue;
            }

            source = source[written..];
        }
    }

    /// <summary>Writing to a peer that no longer reads fails like send() after the peer closed (EPIPE).</summary>
    private void CheckPeerReads()
    {
        if (_out.ConsumerState != SpscRing.StateOpen)
        {
            throw PeerStoppedReading();
        }
    }

    /// <summary>Ends the writer once: the mapping may go as soon as the receive thread has ended too.</summary>
    private void EndWriter()
    {
        lock (StateLock)
        {
            _sending = false;
            if (_writerEnded)
            {
                return;
            }

            _writerEnded = true;
        }

        _sendDone.TrySetResult();
        ReleaseLoop();
    }

    /// <summary>Waits until the outbound ring has space; throws when the connection ends meanwhile.</summary>
    private void WaitForSpace()
    {
        if (_out.SpinForSpace())
        {
            return;
        }

        while (true)
        {
            var signal = _out.PrepareSpaceWait();
            if (_out.HasSpace())
            {
                _out.EndSpaceWait();
                return;
            }

            if (IsAborted)
            {
                _out.EndSpaceWait();
                throw new IOException($"The connection to {RemoteEndpoint} was aborted while sending.");
            }

            if (_out.ConsumerState != SpscRing.StateOpen)
            {
                _out.EndSpaceWait();
                throw PeerStoppedReading();
            }

            _out.SleepForSpace(signal, LivenessIntervalMilliseconds);
            if (_out.HasSpace())
            {
                return;
            }

            if (PeerGone())
            {
                throw new IOException($"The connection to {RemoteEndpoint} was lost while sending: the peer process exited.");
            }
        }
    }

    private IOException PeerStoppedReading() =>
        new($"The connection to {RemoteEndpoint} was lost while sending: the peer closed the connection.");
}
