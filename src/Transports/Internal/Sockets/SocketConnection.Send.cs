using System;
using System.Buffers;
using System.IO;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

internal sealed partial class SocketConnection
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
                if (result.IsCanceled)
                {
                    // Abort: unsent bytes are dropped.
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    if (_dedicatedThread)
                    {
                        SendBlocking(buffer);
                    }
                    else
                    {
                        await SendAsync(buffer).ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    // The runtime completed its writer: everything is sent, tell the peer with a half close.
                    ShutdownSend();
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (error is not null)
        {
            var lost = InputCompletion(error) ?? error;
            if (lost is SocketException or ObjectDisposedException)
            {
                lost = new IOException($"The connection to {RemoteEndpoint} was lost while sending.", lost);
            }

            // The runtime's next FlushAsync throws this; the receive side learns about the broken stream from the abort.
            await reader.CompleteAsync(lost).ConfigureAwait(false);
            Abort(lost);
        }
        else
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void SendBlocking(in ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            var remaining = segment.Span;
            while (!remaining.IsEmpty)
            {
                // A blocking send() returns once the kernel has taken the bytes; it blocks while the socket buffer is full.
                remaining = remaining[_socket.Send(remaining, SocketFlags.None)..];
            }
        }
    }

    private async ValueTask SendAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            var remaining = segment;
            while (!remaining.IsEmpty)
            {
                remaining = remaining[await _socket.SendAsync(remaining, SocketFlags.None).ConfigureAwait(false)..];
            }
        }
    }
}
