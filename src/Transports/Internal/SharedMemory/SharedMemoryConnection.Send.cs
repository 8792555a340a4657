using System;
using System.Buffers;
using System.IO;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.SharedMemory;

internal sealed partial class SharedMemoryConnection
{
    private async Task SendLoopAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                // Pending between flushes; the runtime's FlushAsync resumes it inline on the runtime's thread.
                var result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || _aborted)
                {
                    // Abort: unsent bytes are dropped.
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    WriteToRing(buffer);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    // The runtime completed its writer: everything is in the ring, tell the peer.
                    ShutdownSend();
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        try
        {
            if (error is not null)
            {
                var lost = InputCompletion(error) ?? error;

                // The runtime's next FlushAsync throws this; the receive side learns about the broken stream from the abort.
                await reader.CompleteAsync(lost).ConfigureAwait(false);
                Abort(lost);
            }
            else
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _sendDone.TrySetResult();
            ReleaseLoop();
        }
    }

    private void WriteToRing(in ReadOnlySequence<byte> buffer)
    {
        // Writing to a peer that no longer reads fails like send() after the peer closed (EPIPE).
        if (_out.ConsumerState != SpscRing.StateOpen)
        {
            throw PeerStoppedReading();
        }

        foreach (var segment in buffer)
        {
            var remaining = segment.Span;
            while (!remaining.IsEmpty)
            {
                var written = _out.Write(remaining);
                if (written == 0)
                {
                    WaitForSpace();
                    continue;
                }

                remaining = remaining[written..];
            }
        }
    }

    /// <summary>Waits until the outbound ring has space; throws when the connection ends meanwhile.</summary>
    private void WaitForSpace()
    {
        if (_out.SpinForSpace(SpinTicks))
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

            if (_aborted)
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
