using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// Presents another transport's <see cref="IDuplexPipe"/> as a <see cref="Stream"/>, so <see cref="System.Net.Security.SslStream"/>
/// can run over the socket transport without a second copy of its socket code.
/// </summary>
/// <remarks>
/// Asynchronous only. The socket transport's pipes resume their readers inline, so a read awaited here continues on the
/// socket's receive thread and a write completes inside the socket's blocking send: no thread-pool hop in either
/// direction. Every write is flushed at once, because SslStream never calls <see cref="FlushAsync"/> after handshake
/// messages, alerts or <c>close_notify</c>.
/// </remarks>
internal sealed class DuplexPipeStream : Stream
{
    private readonly IDuplexPipe _pipe;
    private bool _checkFirstByte = true;

    public DuplexPipeStream(IDuplexPipe pipe)
    {
        _pipe = pipe;
    }

    /// <summary>Gets the first byte the peer sent when it cannot start a TLS record, or null.</summary>
    public byte? NonTlsFirstByte { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await _pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var data = result.Buffer;
            if (result.IsCanceled)
            {
                _pipe.Input.AdvanceTo(data.Start);
                return 0;
            }

            if (!data.IsEmpty)
            {
                if (_checkFirstByte)
                {
                    _checkFirstByte = false;
                    CheckTlsRecordStart(data.FirstSpan[0]);
                }

                var count = (int)Math.Min(data.Length, buffer.Length);
                data.Slice(0, count).CopyTo(buffer.Span);
                _pipe.Input.AdvanceTo(data.GetPosition(count));
                return count;
            }

            _pipe.Input.AdvanceTo(data.End);
            if (result.IsCompleted)
            {
                return 0;
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await _pipe.Output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The write was cancelled: the connection is being aborted.");
        }

        if (result.IsCompleted)
        {
            throw new IOException("The underlying connection no longer accepts data.");
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Writes are flushed as they are made.
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    // Synchronous I/O here would block a thread on the pipe: only the asynchronous path is used, and it runs inline.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("DuplexPipeStream is asynchronous only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("DuplexPipeStream is asynchronous only.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Every TLS record starts with its content type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application data.
    /// Anything else means the peer is not speaking TLS at all (typically an Rpc frame from a plain <c>tcp://</c> peer),
    /// which deserves a clearer error than SslStream's "corrupted frame".
    /// </summary>
    private void CheckTlsRecordStart(byte first)
    {
        if (first is < 20 or > 23)
        {
            NonTlsFirstByte = first;
            throw new IOException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The peer did not speak TLS (its first byte was 0x{first:X2}, which starts no TLS record)."));
        }
    }
}
