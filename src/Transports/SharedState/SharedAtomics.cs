using System;
using System.Runtime.CompilerServices;
using System.Threading;
using Rpc.SharedState.Internal;

namespace Rpc.SharedState;

/// <summary>
/// Lock-free operations on the <see langword="int"/> and <see langword="long"/> elements of shared arrays, atomic across
/// processes, and <c>WaitForChange</c>, which sleeps (a futex wait, no polling) until an element differs from a value.
/// </summary>
/// <remarks>
/// Every operation here that changes an element wakes the threads waiting for it to change, in every process; a plain
/// write through a span or the indexer does not, and is noticed by waiters within 100 ms. On <see langword="long"/>
/// elements the futex word is the low half: a change of only the high half racing with a waiter going to sleep is also
/// noticed within 100 ms; otherwise the wake is immediate.
/// </remarks>
public static unsafe class SharedAtomics
{
    /// <summary>Adds <paramref name="delta"/> to the element and returns the new value.</summary>
    public static int AtomicAdd(this SharedArray<int> array, int index, int delta)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.Add(ref element, delta);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Adds <paramref name="delta"/> to the element and returns the new value.</summary>
    public static long AtomicAdd(this SharedArray<long> array, int index, long delta)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.Add(ref element, delta);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Stores <paramref name="value"/> in the element and returns the value it replaced.</summary>
    public static int AtomicExchange(this SharedArray<int> array, int index, int value)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.Exchange(ref element, value);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Stores <paramref name="value"/> in the element and returns the value it replaced.</summary>
    public static long AtomicExchange(this SharedArray<long> array, int index, long value)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.Exchange(ref element, value);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Stores <paramref name="value"/> if the element equals <paramref name="comparand"/>; returns the element's previous value either way.</summary>
    public static int AtomicCompareExchange(this SharedArray<int> array, int index, int value, int comparand)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.CompareExchange(ref element, value, comparand);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Stores <paramref name="value"/> if the element equals <paramref name="comparand"/>; returns the element's previous value either way.</summary>
    public static long AtomicCompareExchange(this SharedArray<long> array, int index, long value, long comparand)
    {
        ref var element = ref Element(array, index);
        var result = Interlocked.CompareExchange(ref element, value, comparand);
        array.Segment.WakeSleepers((int*)Unsafe.AsPointer(ref element));
        return result;
    }

    /// <summary>Reads the element with acquire semantics (what another process wrote before its atomic write is visible).</summary>
    public static int AtomicRead(this SharedArray<int> array, int index) => Volatile.Read(ref Element(array, index));

    /// <summary>Reads the element with acquire semantics (what another process wrote before its atomic write is visible).</summary>
    public static long AtomicRead(this SharedArray<long> array, int index) => Volatile.Read(ref Element(array, index));

    /// <summary>Sleeps until the element differs from <paramref name="value"/>; returns false when <paramref name="timeout"/> passes first.</summary>
    /// <param name="array">The array.</param>
    /// <param name="index">The element.</param>
    /// <param name="value">The value to wait away from.</param>
    /// <param name="timeout">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Ends the wait (noticed within 100 ms).</param>
    public static bool WaitForChange(this SharedArray<int> array, int index, int value, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var word = (int*)Unsafe.AsPointer(ref Element(array, index));
        return array.Segment.WaitForChange(word, value, () => Volatile.Read(ref *word) != value, Timeouts.ToMilliseconds(timeout), cancellationToken);
    }

    /// <summary>Sleeps until the element differs from <paramref name="value"/>; returns false when <paramref name="timeout"/> passes first.</summary>
    /// <param name="array">The array.</param>
    /// <param name="index">The element.</param>
    /// <param name="value">The value to wait away from.</param>
    /// <param name="timeout">The longest wait, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Ends the wait (noticed within 100 ms).</param>
    public static bool WaitForChange(this SharedArray<long> array, int index, long value, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var element = (long*)Unsafe.AsPointer(ref Element(array, index));

        // Little-endian (every architecture .NET runs on Linux): the low half is at the element's own address.
        return array.Segment.WaitForChange((int*)element, unchecked((int)value), () => Volatile.Read(ref *element) != value, Timeouts.ToMilliseconds(timeout), cancellationToken);
    }

    private static ref T Element<T>(SharedArray<T> array, int index)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(array);
        return ref array[index];
    }
}
