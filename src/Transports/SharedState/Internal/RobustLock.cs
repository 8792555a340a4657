using System;
using System.Threading;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.SharedState.Internal;

/// <summary>
/// A process-wide mutex in a 32-byte block of shared memory, built on <c>futex(2)</c>, that survives the death of its owner.
/// </summary>
/// <remarks>
/// <para>
/// The lock word is 0 when free, else the owner's pid, plus bit 31 while someone may sleep on it (so an uncontended
/// release makes no system call). Ownership is the process's, not a thread's: unlike a pthread mutex, an <c>await</c>
/// inside the lock may resume on another thread and still release it.
/// </para>
/// <para>
/// Robustness: a waiter sleeps in slices of <see cref="LivenessSliceMilliseconds"/>; after each full slice, and before
/// giving up at its timeout, it checks the owner (pid and start time, recorded next to the word, so a recycled pid is not taken for the owner). When the owner is
/// gone, one waiter wins a compare-exchange of the word from the dead pid to its own and is told
/// <c>previousOwnerDied</c>. So a holder killed inside the lock delays the others by about one slice, never forever.
/// </para>
/// <para>
/// Block: word (int) at 0, recorded owner pid (int) at 4, recorded owner start time (ulong) at 8, acquisition count (int)
/// at 16: the count tells a scope's release from a stale second release.
/// </para>
/// </remarks>
internal readonly unsafe struct RobustLock
{
    internal const int BlockSize = 32;
    internal const int LivenessSliceMilliseconds = 100;

    private const int WaitersBit = unchecked((int)0x8000_0000);
    private const int OwnerMask = 0x7FFF_FFFF;

    private static readonly int CurrentPid = Environment.ProcessId;

    private readonly byte* _block;

    internal RobustLock(byte* block) => _block = block;

    private int* Word => (int*)_block;

    private int* RecordedOwnerPid => (int*)(_block + 4);

    private ulong* RecordedOwnerStart => (ulong*)(_block + 8);

    private int* Acquisitions => (int*)(_block + 16);

    /// <summary>Gets the pid in the lock word: 0 when free.</summary>
    public int OwnerPid => Volatile.Read(ref *Word) & OwnerMask;

    /// <summary>
    /// Takes the lock, waiting at most <paramref name="timeoutMilliseconds"/> (-1: no limit). Returns false on timeout; on
    /// success, <paramref name="generation"/> identifies this acquisition for <see cref="Release"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public bool TryAcquire(int timeoutMilliseconds, CancellationToken cancellationToken, out bool previousOwnerDied, out int generation)
    {
        previousOwnerDied = false;
        if (Interlocked.CompareExchange(ref *Word, CurrentPid, 0) == 0)
        {
            generation = RecordOwner();
            return true;
        }

        return AcquireContended(timeoutMilliseconds, cancellationToken, out previousOwnerDied, out generation);
    }

    /// <summary>Releases the acquisition <paramref name="generation"/>.</summary>
    /// <exception cref="SynchronizationLockException">This process does not hold that acquisition (released twice, or never held).</exception>
    public void Release(int generation)
    {
        if (Volatile.Read(ref *Acquisitions) != generation || (Volatile.Read(ref *Word) & OwnerMask) != CurrentPid)
        {
            throw new SynchronizationLockException("This lock scope does not hold the shared lock: it was already released.");
        }

        if ((Interlocked.Exchange(ref *Word, 0) & WaitersBit) != 0)
        {
            Futex.WakeOne(Word);
        }
    }

    private bool AcquireContended(int timeoutMilliseconds, CancellationToken cancellationToken, out bool previousOwnerDied, out int generation)
    {
        previousOwnerDied = false;
        generation = 0;

        // Holders usually keep a lock for microseconds: a short spin saves the two system calls of a sleep and a wake.
        var spinner = default(SpinWait);
        while (!spinner.NextSpinWillYield)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
            if (Volatile.Read(ref *Word) == 0 && Interlocked.CompareExchange(ref *Word, CurrentPid, 0) == 0)
            {
                generation = RecordOwner();
                return true;
            }
        }

        var start = Environment.TickCount64;
        var lastLivenessCheck = start;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var word = Volatile.Read(ref *Word);
            if (word == 0)
            {
                // Others may still sleep on the word: taking it with the waiters bit makes our release wake one of them.
                if (Interlocked.CompareExchange(ref *Word, CurrentPid | WaitersBit, 0) == 0)
                {
                    generation = RecordOwner();
                    return true;
                }

                continue;
            }

            if ((word & WaitersBit) == 0 && Interlocked.CompareExchange(ref *Word, word | WaitersBit, word) != word)
            {
                continue;
            }

            var now = Environment.TickCount64;
            var remaining = timeoutMilliseconds < 0 ? long.MaxValue : timeoutMilliseconds - (now - start);

            // Every slice, and once more before giving up (so a TryLock also takes over from a dead owner).
            if (now - lastLivenessCheck >= LivenessSliceMilliseconds || remaining <= 0)
            {
                lastLivenessCheck = now;
                if (!IsAlive(word & OwnerMask) && Interlocked.CompareExchange(ref *Word, CurrentPid | WaitersBit, word | WaitersBit) == (word | WaitersBit))
                {
                    previousOwnerDied = true;
                    generation = RecordOwner();
                    return true;
                }
            }

            if (remaining <= 0)
            {
                return false;
            }

            var slice = (int)Math.Min(remaining, LivenessSliceMilliseconds);

            // The slice also bounds how late a cancellation is noticed.
            _ = Futex.Wait(Word, word | WaitersBit, slice);
        }
    }

    private int RecordOwner()
    {
        // Start time before pid: a checker that reads our pid in the record (acquire) then reads our start time.
        *RecordedOwnerStart = ProcessIdentity.CurrentStartTime;
        Volatile.Write(ref *RecordedOwnerPid, CurrentPid);
        var generation = *Acquisitions + 1;
        if (generation == 0)
        {
            // 0 is a default (empty) scope's.
            generation = 1;
        }

        Volatile.Write(ref *Acquisitions, generation);
        return generation;
    }

    private bool IsAlive(int owner)
    {
        if (owner == CurrentPid)
        {
            return true;
        }

        // The owner may have died between taking the word and recording itself: then its start time is unknown (0), and
        // only the pid's existence counts.
        var startTime = Volatile.Read(ref *RecordedOwnerPid) == owner ? Volatile.Read(ref *RecordedOwnerStart) : 0;
        return ProcessIdentity.IsAlive(owner, startTime);
    }
}
