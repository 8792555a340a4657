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
/// sleeps), <c>ProducerState</c> (open, closed, aborted), <c>DataSignal</c> (the consumer's futex word). Consumer line,
/// 128 bytes further: <c>Tail</c> (u64, total bytes consumed), <c>DataWaiter</c>, <c>ConsumerState</c> (open, closed),
/// <c>SpaceSignal</c> (the producer's futex word).
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
    private const int TailOffset = 128;
    private const int DataWaiterOffset = 136;
    private const int ConsumerStateOffset = 140;
    private const int SpaceSignalOffset = 144;

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

    // Producer-local: our published head, and the last tail we read (re-read only when it says "full").
    private long _head;
    private long _cachedTail;

    // Consumer-local: our published tail.
    private long _tail;

    // Adaptive spinning, per side: see SpinBudget.
    private int _dataSpinFailures;
    private int _spaceSpinFailures;

    public SpscRing(byte* control, byte* data, int capacity)
    {
        _control = control;
        _data = data;
        _capacity = capacity;
        _mask = capacity - 1;
        _head = Volatile.Read(ref *HeadWord);
        _tail = Volatile.Read(ref *TailWord);
        _cachedTail = _tail;
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

    // ---- Producer ----

    /// <summary>Copies as much of <paramref name="source"/> as fits, publishes it, and returns how much that was (0: full).</summary>
    public int Write(ReadOnlySpan<byte> source)
    {
        var free = _capacity - (_head - _cachedTail);
        if (free < source.Length)
        {
            _cachedTail = Volatile.Read(ref *TailWord);
            free = _capacity - (_head - _cachedTail);
            if ((ulong)free > (ulong)_capacity)
            {
                throw Corrupt();
            }
        }

        var count = (int)Math.Min(free, source.Length);
        if (count == 0)
        {
            return 0;
        }

        var offset = (int)(_head & _mask);
        var first = Math.Min(count, _capacity - offset);
        source[..first].CopyTo(new Span<byte>(_data + offset, first));
        if (count > first)
        {
            source[first..count].CopyTo(new Span<byte>(_data, count - first));
        }

        _head += count;

        // Release (the bytes are visible before the head) and a full fence (the head is visible before we read the flag).
        Interlocked.Exchange(ref *HeadWord, _head);
        if (Volatile.Read(ref *DataWaiter) != 0)
        {
            Signal(DataSignal);
        }

        return count;
    }

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
        Futex.Wait(SpaceSignal, signal, timeoutMilliseconds);
        EndSpaceWait();
    }

    public void EndSpaceWait() => Volatile.Write(ref *SpaceWaiter, 0);

    /// <summary>Gets whether the ring has free space, re-reading the consumer's tail if needed.</summary>
    public bool HasSpace()
    {
        if (_head - _cachedTail < _capacity)
        {
            return true;
        }

        _cachedTail = Volatile.Read(ref *TailWord);
        return _head - _cachedTail < _capacity;
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
            Signal(SpaceSignal);
        }

        return count;
    }

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
        Futex.Wait(DataSignal, signal, timeoutMilliseconds);
        EndDataWait();
    }

    public void EndDataWait() => Volatile.Write(ref *DataWaiter, 0);

    private static IOException Corrupt() =>
        new("The shared-memory ring's positions are inconsistent (the peer wrote outside the protocol); the connection is unusable.");
}
