using System;
using System.IO;

namespace Rpc.Transports.Internal.SharedMemory;

internal sealed partial class SharedMemoryConnection
{
    private void ReceiveOnDedicatedThread()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (WaitForData(out error))
            {
                var copied = 0;
                do
                {
                    var buffer = writer.GetMemory(MinimumReceiveSize);
                    var count = _in.Read(buffer.Span);
                    writer.Advance(count);
                    copied += count;
                }
                while (copied < MaxReceiveBatch && _in.Available() != 0);

                // The reader scheduler is inline: this call runs the runtime's read loop on this thread until it awaits.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted
                    ? flush.GetAwaiter().GetResult()
                    // Back-pressure: the runtime holds MaxBufferedInputBytes unread. Stop consuming the ring (the peer's writer
                    // then waits once it is full) until the reader has consumed half of it.
                    : flush.AsTask().GetAwaiter().GetResult();
                if (IsReceiveEnd(result))
                {
                    if (result.IsCompleted && _disposing)
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
            writer.Complete(InputCompletion(error));
            _receiveDone.TrySetResult();
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
        if (_in.SpinForData(SpinTicks))
        {
            return true;
        }

        while (true)
        {
            var signal = _in.PrepareDataWait();

            // Re-check everything after raising the flag: a change from now on also moves the signal word.
            if (_in.Available() != 0)
            {
                _in.EndDataWait();
                return true;
            }

            if (_stopReceiving || EndOfStream(out end))
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
}
