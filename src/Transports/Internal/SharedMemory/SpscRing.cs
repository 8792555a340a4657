using System;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// One direction of a connection: a single-producer, single-consumer byte ring in shared memory. Each process makes its own
/// instance over the same memory and uses only its half (producer or consumer) of the methods.
/// </summary>
/// <remarks>
/// <para>
/// Control block (256 bytes). Producer line: <c>Head</c> (u64, total bytes published), <c>SpaceWaiter</c> (the producer
/// sleeps), <c>ProducerState</c> (open, closed, aborted), <c>DataSignal</c> (the consumer's futex word),
/// <c>DataSignalTime</c> (u64, when the producer last woke the consumer). Consumer line, 128 bytes further: <c>Tail</c>
/// (u64, total bytes consumed), <c>DataWaiter</c>, <c>ConsumerState</c> (open, closed), <c>SpaceSignal</c> (the producer's
/// futex word), <c>SpaceSignalTime</c>.
/// Positions are free-running 64-bit counters, so <c>Head - Tail</c> is the fill level without a wrap flag and never
/// wraps in practice.
/// </para>
/// <para>
/// No torn bytes: the producer copies, then publishes <c>Head</c> (release); the consumer reads <c>Head</c> (acquire), then
/// copies. Symmetrically the consumer publishes <c>Tail</c> only after copying out, so the producer never overwrites unread
/// bytes.
/// </para>
/// <para>
/// Wake-ups (a Dekker handshake): a sleeper sets its waiter flag with a full fence, reads the signal word, then re-checks
/// the counter and the states, and sleeps with <c>FUTEX_WAIT</c> on the signal word only if nothing changed. A publisher
/// stores the counter with a full fence, reads the flag, and only if it is set increments the signal word and calls
/// <c>FUTEX_WAKE</c>. Either the sleeper sees the new counter, or the publisher sees the flag and changes the signal word,
/// which makes a <c>FUTEX_WAIT</c> that has not started yet return at once (the kernel compares the word under its lock):
/// a wake-up cannot be lost, and a side that is not asleep costs its peer no system call. State changes (close, abort,
/// and local stops) always bump the signal words, so they cannot be lost either.
/// </para>
/// <para>
/// Spinning before a sleep pays when the sleep would cost more than the spin. What a sleep costs depends on the machine's
/// state, by a factor of ten: on an idle virtual machine, waking a thread whose virtual CPU has halted takes the host
/// ~30-50 µs; on a busy one the woken thread preempts a running one within a few µs. So each wake-up is measured: the
/// publisher stamps the time (<c>DataSignalTime</c>, <c>SpaceSignalTime</c>, same monotonic clock in both processes) before
/// it wakes a sleeper, the sleeper subtracts it from the time it resumed, and spins next time for about twice the average
/// (within <see cref="MinSpinMicroseconds"/>…<see cref="MaxSpinMicroseconds"/>). An idle machine thus keeps both sides
/// spinning (round trips of a few µs instead of two ~40 µs wake-ups), a busy one spins only briefly.
/// </para>
/// </remarks>
internal sealed unsafe class SpscRing
{
    internal const int StateOpen = 0;
    internal const int StateClosed = 1;
    internal const int StateAborted = 2;

    private const int HeadOffset = 0;
    private const int SpaceWaiterOffset = 8;
    private const int ProducerStateOffset = 12;
    private const int DataSignalOffset = 16;
    private const int DataSignalTimeOffset = 24;
    private const int TailOffset = 128;
    private const int DataWaiterOffset = 136;
    private const int ConsumerStateOffset = 140;
    private const int SpaceSignalOffset = 144;
    private const int SpaceSignalTimeOffset = 152;

    /// <summary>The spin budget before any wake-up has been measured.</summary>
    internal const int DefaultSpinMicroseconds = 50;

    /// <summary>The shortest spin: a peer that is running answers a small message within this (busy machine).</summary>
    internal const int MinSpinMicroseconds = 8;

    /// <summary>The longest spin, whatever wake-ups cost.</summary>
    internal const int MaxSpinMicroseconds = 200;

    private static readonly long DefaultSpinTicks = MicrosecondsToTicks(DefaultSpinMicroseconds);
    private static readonly long MinSpinTicks = MicrosecondsToTicks(MinSpinMicroseconds);
    private static readonly long MaxSpinTicks = MicrosecondsToTicks(MaxSpinMicroseconds);

    /// <summary>Spinning only pays when the other side can run at the same time.</summary>
    private static readonly bool CanSpin = Environment.ProcessorCount > 1;

    /// <summary>After this many spins in a row that ended in a sleep anyway, stop spinning for a while.</summary>
    private const int FailuresBeforeBackOff = 4;

    /// <summary>While backed off, one wait in this many still spins, to notice when spinning pays again.</summary>
    private const int ProbeInterval = 16;

    private readonly byte* _control;
    private readonly byte* _data;
    private readonly int _capacity;
    private readonly long _mask;

    // Producer-local: our published head, how far we have copied (bytes past the head are not visible yet), and the last
    // tail we read (re-read only when it says "full").
    private long _head;
    private long _written;
    private long _cachedTail;

    // Consumer-local: our published tail.
    private long _tail;

    // Adaptive spinning, per side: consecutive failed spins (see ShouldSpin), the average measured wake-up cost (-1: none
    // yet) and the spin budget derived from it, in Stopwatch ticks.
    private int _dataSpinFailures;
    private int _spaceSpinFailures;
    private long _dataWakeTicks = -1;
    private long _spaceWakeTicks = -1;
    private long _dataSpinTicks = DefaultSpinTicks;
    private long _spaceSpinTicks = DefaultSpinTicks;

    public SpscRing(byte* control, byte* data, int capacity)
    {
        _control = control;
        _data = data;
        _capacity = capacity;
        _mask = capacity - 1;
        _head = Volatile.Read(ref *HeadWord);
        _written = _head;
        _tail = Volatile.Read(ref *TailWord);
        _cachedTail = _tail;

        // The peer can have written both positions before we map the ring: the producer trusts its cached tail until the
        // ring looks full, so a tail ahead of the head would let a write run past the end of the data.
        if ((ulong)(_head - _tail) > (ulong)capacity)
        {
            throw Corrupt();
        }
    }

    public int Capacity => _capacity;

    public int ProducerState
    {
        get => Volatile.Read(ref *(int*)(_control + ProducerStateOffset));
        set => Volatile.Write(ref *(int*)(_control + ProducerStateOffset), value);
    }

    public int ConsumerState
    {
        get => Volatile.Read(ref *(int*)(_control + ConsumerStateOffset));
        set => Volatile.Write(ref *(int*)(_control + ConsumerStateOffset), value);
    }

    private long* HeadWord => (long*)(_control + HeadOffset);

    private long* TailWord => (long*)(_control + TailOffset);

    private int* SpaceWaiter => (int*)(_control + SpaceWaiterOffset);

    private int* DataWaiter => (int*)(_control + DataWaiterOffset);

    private int* DataSignal => (int*)(_control + DataSignalOffset);

    private int* SpaceSignal => (int*)(_control + SpaceSignalOffset);

    private long* DataSignalTime => (long*)(_control + DataSignalTimeOffset);

    private long* SpaceSignalTime => (long*)(_control + SpaceSignalTimeOffset);

    /// <summary>Wakes every sleeper on this ring, in both processes, so that they re-check the states. Call after changing one.</summary>
    public void WakeAll()
    {
        Signal(DataSignal);
        Signal(SpaceSignal);
    }

    private static void Signal(int* word)
    {
        Interlocked.Increment(ref *word);
        Futex.WakeAll(word);
    }

    /// <summary>Wakes a sleeper that waits for our counter, stamping the time first so that it can measure the wake-up.</summary>
    private static void Signal(int* word, long* time)
    {
        Volatile.Write(ref *time, Stopwatch.GetTimestamp());
        Signal(word);
    }

    private static long MicrosecondsToTicks(long microseconds) => Stopwatch.Frequency * microseconds / 1_000_000;

    /// <summary>
    /// After a sleep that a signal ended: adds the wake-up's cost (from the signal's stamp to now) to the average, and sets
    /// the spin budget to about twice that: spinning longer than a sleep costs gains nothing.
    /// </summary>
    private static void LearnWakeCost(bool woken, long signalTime, long asleepSince, ref long average, ref long budget)
    {
        // A stamp from before we slept belongs to an earlier wake-up; a timeout or a refused sleep measures nothing.
        if (!woken || signalTime < asleepSince)
        {
            return;
        }

        var sample = Math.Clamp(Stopwatch.GetTimestamp() - signalTime, 0, MaxSpinTicks);
        average = average < 0 ? sample : ((3 * average) + sample) / 4;
        budget = Math.Clamp(2 * average, MinSpinTicks, MaxSpinTicks);
    }

    // ---- Producer ----

    /// <summary>Gets how many bytes were copied in but not yet published (see <see cref="Write"/>).</summary>
    public long Unpublished => _written - _head;

    /// <summary>Gets whether the consumer sleeps on the futex (publishing now would cost a wake-up).</summary>
    public bool ConsumerSleeps => Volatile.Read(ref *DataWaiter) != 0;

    /// <summary>
    /// Copies as much of <paramref name="source"/> as fits and returns how much that was (0: full). With
    /// <paramref name="publish"/> the bytes (and any copied before without it) become visible to the consumer now;
    /// without, only at the next <see cref="Publish"/>, so that a large write wakes the consumer once, not per piece.
    /// </summary>
    public int Write(ReadOnlySpan<byte> source, bool publish = true)
    {
        var free = _capacity - (_written - _cachedTail);
        if (free < source.Length)
        {
            RefreshCachedTail();
            free = _capacity - (_written - _cachedTail);
        }

        var count = (int)Math.Min(free, source.Length);
        if (count > 0)
        {
            var offset = (int)(_written & _mask);
            var first = Math.Min(count, _capacity - offset);
            source[..first].CopyTo(new Span<byte>(_data + offset, first));
            if (count > first)
            {
                source[first..count].CopyTo(new Span<byte>(_data, count - first));
            }

            _written += count;
        }

        if (publish)
        {
            Publish();
        }

        return count;
    }

    /// <summary>Makes every byte copied so far visible to the consumer, waking it if it sleeps.</summary>
    public void Publish()
    {
        if (_written == _head)
        {
            return;
        }

        _head = _written;

        // Release (the bytes are visible before the head) and a full fence (the head is visible before we read the flag).
        Interlocked.Exchange(ref *HeadWord, _head);
        if (Volatile.Read(ref *DataWaiter) != 0)
        {
            Signal(DataSignal, DataSignalTime);
        }
    }

    /// <summary>Spins for free space, as long as a sleep has been costing (see <see cref="LearnWakeCost"/>).</summary>
    public bool SpinForSpace() => SpinForSpace(_spaceSpinTicks);

    /// <summary>Spins up to <paramref name="spinTicks"/> (<see cref="Stopwatch"/> ticks) for free space.</summary>
    public bool SpinForSpace(long spinTicks)
    {
        if (HasSpace())
        {
            return true;
        }

        if (!ShouldSpin(ref _spaceSpinFailures))
        {
            return false;
        }

        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            for (var i = 0; i < 16; i++)
            {
                Thread.SpinWait(1);
                if (HasSpace())
                {
                    _spaceSpinFailures = 0;
                    return true;
                }
            }

            if (Stopwatch.GetTimestamp() - start > spinTicks)
            {
                _spaceSpinFailures++;
                return false;
            }
        }
    }

    /// <summary>
    /// Decides whether this wait spins. When the other side keeps answering later than the spin bound (a slow handler, or
    /// an oversubscribed machine where our spinning even takes the CPU the other side needs), spinning only adds its full
    /// bound to every wake-up: after <see cref="FailuresBeforeBackOff"/> failures in a row we go straight to the futex,
    /// probing with a spin every <see cref="ProbeInterval"/> waits.
    /// </summary>
    private static bool ShouldSpin(ref int failures)
    {
        if (!CanSpin)
        {
            return false;
        }

        if (failures < FailuresBeforeBackOff)
        {
            return true;
        }

        if (++failures >= FailuresBeforeBackOff + ProbeInterval)
        {
            // Probe: spin once more; success resets the count, failure backs off for another interval.
            failures = FailuresBeforeBackOff - 1;
            return true;
        }

        return false;
    }

    /// <summary>
    /// First half of a sleep for space: raises the waiter flag (with a full fence) and returns the signal word's value. The
    /// caller then re-checks space and its stop conditions, and calls <see cref="SleepForSpace"/> or <see cref="EndSpaceWait"/>.
    /// </summary>
    public int PrepareSpaceWait()
    {
        Interlocked.Exchange(ref *SpaceWaiter, 1);
        return Volatile.Read(ref *SpaceSignal);
    }

    /// <summary>Sleeps until the signal word moves from <paramref name="signal"/> or the timeout passes, then lowers the flag.</summary>
    public void SleepForSpace(int signal, int timeoutMilliseconds)
    {
        var asleepSince = Stopwatch.GetTimestamp();
        var woken = Futex.Wait(SpaceSignal, signal, timeoutMilliseconds);
        EndSpaceWait();
        LearnWakeCost(woken, Volatile.Read(ref *SpaceSignalTime), asleepSince, ref _spaceWakeTicks, ref _spaceSpinTicks);
    }

    public void EndSpaceWait() => Volatile.Write(ref *SpaceWaiter, 0);

    /// <summary>Gets whether the ring has free space, re-reading the consumer's tail if needed.</summary>
    public bool HasSpace()
    {
        if (_written - _cachedTail < _capacity)
        {
            return true;
        }

        RefreshCachedTail();
        return _written - _cachedTail < _capacity;
    }

    /// <summary>
    /// Re-reads the consumer's tail. The tail is the peer's to write: one behind the bytes it may have read, or ahead of
    /// what we wrote, would make <see cref="Write"/> overwrite unread bytes or copy past the end of the data.
    /// </summary>
    private void RefreshCachedTail()
    {
        var tail = Volatile.Read(ref *TailWord);
        if ((ulong)(_written - tail) > (ulong)_capacity)
        {
            throw Corrupt();
        }

        _cachedTail = tail;
    }

    // ---- Consumer ----

    /// <summary>Gets how many published bytes wait to be read.</summary>
    public long Available()
    {
        var available = Volatile.Read(ref *HeadWord) - _tail;
        return (ulong)available <= (ulong)_capacity ? available : throw Corrupt();
    }

    /// <summary>Copies up to <paramref name="destination"/>.Length published bytes out and releases their space; returns the count.</summary>
    public int Read(Span<byte> destination)
    {
        var count = (int)Math.Min(Available(), destination.Length);
        if (count == 0)
        {
            return 0;
        }

        var offset = (int)(_tail & _mask);
        var first = Math.Min(count, _capacity - offset);
        new ReadOnlySpan<byte>(_data + offset, first).CopyTo(destination);
        if (count > first)
        {
            new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
        }

        _tail += count;

        // Release (we are done reading before the producer may overwrite) and a full fence before reading the flag.
        Interlocked.Exchange(ref *TailWord, _tail);
        if (Volatile.Read(ref *SpaceWaiter) != 0)
        {
            Signal(SpaceSignal, SpaceSignalTime);
        }

        return count;
    }

    /// <summary>Spins for published bytes, as long as a sleep has been costing (see <see cref="LearnWakeCost"/>).</summary>
    public bool SpinForData() => SpinForData(_dataSpinTicks);

    /// <summary>Spins up to <paramref name="spinTicks"/> (<see cref="Stopwatch"/> ticks) for published bytes.</summary>
    public bool SpinForData(long spinTicks)
    {
        if (Available() != 0)
        {
            return true;
        }

        if (!ShouldSpin(ref _dataSpinFailures))
        {
            return false;
        }

        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            for (var i = 0; i < 16; i++)
            {
                Thread.SpinWait(1);
                if (Volatile.Read(ref *HeadWord) != _tail)
                {
                    _dataSpinFailures = 0;
                    return true;
                }
            }

            if (Stopwatch.GetTimestamp() - start > spinTicks)
            {
                _dataSpinFailures++;
                return false;
            }
        }
    }

    /// <summary>First half of a sleep for data; see <see cref="PrepareSpaceWait"/>.</summary>
    public int PrepareDataWait()
    {
        Interlocked.Exchange(ref *DataWaiter, 1);
        return Volatile.Read(ref *DataSignal);
    }

    /// <summary>Sleeps until the signal word moves from <paramref name="signal"/> or the timeout passes, then lowers the flag.</summary>
    public void SleepForData(int signal, int timeoutMilliseconds)
    {
        var asleepSince = Stopwatch.GetTimestamp();
        var woken = Futex.Wait(DataSignal, signal, timeoutMilliseconds);
        EndDataWait();
        LearnWakeCost(woken, Volatile.Read(ref *DataSignalTime), asleepSince, ref _dataWakeTicks, ref _dataSpinTicks);
    }

    public void EndDataWait() => Volatile.Write(ref *DataWaiter, 0);

    private static IOException Corrupt() =>
        new("The shared-memory ring's positions are inconsistent (the peer wrote outside the protocol); the connection is unusable.");
}
