using System;
using System.Buffers;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// A <see cref="Stream"/> (for TLS, an <see cref="System.Net.Security.SslStream"/>) exposed as an <see cref="System.IO.Pipelines.IDuplexPipe"/>,
/// with the lifecycle of the socket transport: clean close completes the input, <see cref="ConnectionLifetime.Abort"/> drops everything,
/// <see cref="ConnectionLifetime.DisposeAsync"/> flushes, closes and waits.
/// </summary>
/// <remarks>
/// <para>
/// Input: an asynchronous loop reads the stream into the input pipe, whose reader is resumed inline. Over the
/// socket transport the stream's reads complete on the socket's dedicated receive thread, so decryption and the runtime's
/// read loop run there: one wake-up per message, as with plain TCP. A second thread doing blocking reads would add a
/// wake-up (and a context switch) per message.
/// </para>
/// <para>
/// Output: the send loop drains the output pipe, resumed inline by the runtime's <c>FlushAsync</c>, and writes
/// each segment to the stream on the runtime's thread. It is the stream's only writer (SslStream forbids concurrent
/// writes); the runtime already serializes its flushes.
/// </para>
/// </remarks>
internal sealed class StreamTransportConnection : DuplexPipeConnection
{
    private readonly Stream _stream;
    private readonly Func<Stream, ValueTask> _shutdownSend;
    private readonly Action<Exception?> _abortUnderlying;
    private readonly Func<ValueTask> _releaseUnderlying;
    private readonly CancellationTokenSource _stopReceiving = new();

    /// <param name="stream">The established stream; this connection owns it.</param>
    /// <param name="remoteEndpoint">Names the peer in error messages.</param>
    /// <param name="options">Supplies <see cref="TransportOptions.MaxBufferedInputBytes"/>.</param>
    /// <param name="shutdownSend">Ends our sending half once the runtime completed its output (TLS: close_notify, then a half close).</param>
    /// <param name="abortUnderlying">Tears down whatever carries the stream, waking any blocked read or write.</param>
    /// <param name="releaseUnderlying">Closes whatever carries the stream once both loops have ended.</param>
    public StreamTransportConnection(
        Stream stream,
        string remoteEndpoint,
        TransportOptions options,
        Func<Stream, ValueTask> shutdownSend,
        Action<Exception?> abortUnderlying,
        Func<ValueTask> releaseUnderlying)
        : base(options, remoteEndpoint, dedicatedThread: false)
    {
        _stream = stream;
        _shutdownSend = shutdownSend;
        _abortUnderlying = abortUnderlying;
        _releaseUnderlying = releaseUnderlying;
    }

    // 0: TLS: the peer sent close_notify, or closed the connection between records.
    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _stream.ReadAsync(buffer, _stopReceiving.Token);

    protected override async ValueTask SendAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            await _stream.WriteAsync(segment).ConfigureAwait(false);
        }
    }

    protected override ValueTask ShutdownSendAsync() => IsAborted ? default : _shutdownSend(_stream);

    // Nothing to close under the lock: an abort tears down the underlying connection (AbortUnderlying), a dispose releases
    // it once both loops have ended (ReleaseAsync), so an abort during that release still reaches it.
    protected override void Close()
    {
    }

    // Closing the underlying connection fails a read or write blocked in the stream. Outside the lock, because the
    // underlying transport's pipes resume their readers inline.
    protected override void AbortUnderlying(Exception? reason) => _abortUnderlying(reason);

    // Cancelling wakes the receive loop's read. The underlying connection then lingers for the peer's close itself, so our
    // close does not become a reset: no draining here.
    protected override Task StopReceivingAsync() => _stopReceiving.CancelAsync();

    protected override ValueTask DrainUntilPeerClosesAsync() => default;

    protected override async ValueTask ReleaseAsync()
    {
        await _releaseUnderlying().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _stopReceiving.Dispose();
    }

    protected override Exception? InputError(Exception? error, bool peerEnded) =>
        error is null or OperationCanceledException or ObjectDisposedException
            ? null // Our own close interrupted the read: not an error for anyone still reading.
            : error as IOException ?? new IOException($"The connection to {RemoteEndpoint} was lost: {error.Message}", error);

    protected override Exception SendError(Exception error) =>
        AbortReason() ?? (error as IOException ?? new IOException($"The connection to {RemoteEndpoint} was lost while sending: {error.Message}", error));
}
