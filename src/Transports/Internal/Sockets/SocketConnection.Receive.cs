using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

internal sealed partial class SocketConnection
{
    private void ReceiveOnDedicatedThread()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = _socket.Receive(buffer.Span, SocketFlags.None);
                if (received == 0)
                {
                    // recv() returns 0 once the peer has shut down its sending side (FIN) and we read everything before it.
                    break;
                }

                writer.Advance(received);

                // The reader scheduler is inline: this call runs the runtime's read loop on this thread until it awaits.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted
                    ? flush.GetAwaiter().GetResult()
                    // Back-pressure: the runtime holds MaxBufferedInputBytes unread. Stop reading from the socket (the peer's
                    // sends then block once the kernel buffers fill) until the reader has consumed half of it.
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
        }
    }

    /// <summary>Reads and drops bytes until the peer closes, so that our close is not turned into a reset.</summary>
    private void DrainUntilPeerCloses()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (_socket.Receive(scratch, SocketFlags.None) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                // A zero-byte receive waits for data without holding a pipe segment, so an idle connection costs no buffer.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);

                var buffer = writer.GetMemory(MinimumReceiveSize);
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                var result = await writer.FlushAsync().ConfigureAwait(false);
                if (IsReceiveEnd(result))
                {
                    if (result.IsCompleted && _disposing)
                    {
                        await DrainUntilPeerClosesAsync().ConfigureAwait(false);
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
            await writer.CompleteAsync(InputCompletion(error)).ConfigureAwait(false);
            _receiveDone.TrySetResult();
        }
    }

    private async Task DrainUntilPeerClosesAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (await _socket.ReceiveAsync(scratch.AsMemory(), SocketFlags.None).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}
