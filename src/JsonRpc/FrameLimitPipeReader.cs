using System;
using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Connections;
using Rpc.Diagnostics;

namespace Rpc.Protocols.JsonRpc;

/// <summary>
/// Sits between the transport's <see cref="PipeReader"/> and StreamJsonRpc's <c>HeaderDelimitedMessageHandler</c> and
/// checks each message's header block as soon as it arrives, before the handler buffers the body: StreamJsonRpc does
/// not cap a message's length, so a peer announcing <c>Content-Length: 2147483647</c> would otherwise be buffered.
/// </summary>
/// <remarks>
/// The guard parses headers exactly as StreamJsonRpc does (lines ending in CRLF, an empty line ending the block, the
/// case-sensitive <c>Content-Length</c> header) and is stricter where StreamJsonRpc is lenient (a duplicate
/// <c>Content-Length</c> is rejected rather than "last one wins"), so the two can never disagree on where a message
/// ends. Body bytes are skipped by counting, never copied or inspected; the only allocation is one small line buffer
/// per connection. The same scan tells when StreamJsonRpc asks for more bytes of an incomplete message, which starts the
/// connection's <see cref="FrameDeadline"/>. What StreamJsonRpc consumes is counted as received
/// (<see cref="ConnectionTelemetry.OnReceived"/>), once per <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>.
/// </remarks>
internal sealed class FrameLimitPipeReader : PipeReader
{
    /// <summary>The largest header block accepted (vscode-jsonrpc and StreamJsonRpc send well under 100 bytes).</summary>
    internal const int MaxHeaderBlockSize = 4 * 1024;

    private static ReadOnlySpan<byte> ContentLengthName => "Content-Length"u8;

    private readonly PipeReader _inner;
    private readonly ProtocolConnection _connection;
    private readonly int _maxFrameSize;
    private readonly Action<RpcProtocolException> _onViolation;
    private readonly Func<Task?> _takeReadPause;
    private readonly FrameDeadline? _frameDeadline;
    private readonly KeepAlive? _keepAlive;

    // The buffer last handed to the consumer, and how much of it has been scanned.
    private ReadOnlySequence<byte> _lastBuffer;
    private long _scanned;

    // Scanner state: either inside a body (_bodyRemaining > 0) or inside a header block.
    private long _bodyRemaining;
    private int _headerBlockLength;
    private readonly byte[] _line = new byte[MaxHeaderBlockSize];
    private int _lineLength;
    private long _contentLength = -1;
    private long _messagesCompleted;

    private RpcProtocolException? _violation;

    /// <param name="inner">The transport's reader.</param>
    /// <param name="connection">The connection reading, whose <see cref="ProtocolConnection.Telemetry"/> counts the bytes (set after this is made).</param>
    /// <param name="maxFrameSize">The largest body accepted.</param>
    /// <param name="onViolation">Told of a violation before the read that found it throws.</param>
    /// <param name="takeReadPause">
    /// Gives a task to await before the next read, when a service asked to stop reading this peer for a while: StreamJsonRpc
    /// has no such hook, and it reads through here.
    /// </param>
    /// <param name="frameDeadline">Timed while a message is incomplete, or <see langword="null"/> for no limit.</param>
    /// <param name="keepAlive">Told of every read and every pause of reading, or <see langword="null"/> when keepalive is off.</param>
    public FrameLimitPipeReader(PipeReader inner, ProtocolConnection connection, int maxFrameSize, Action<RpcProtocolException> onViolation, Func<Task?> takeReadPause, FrameDeadline? frameDeadline, KeepAlive? keepAlive)
    {
        _keepAlive = keepAlive;
        _inner = inner;
        _connection = connection;
        _maxFrameSize = maxFrameSize;
        _onViolation = onViolation;
        _takeReadPause = takeReadPause;
        _frameDeadline = frameDeadline;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfViolated();
        if (_takeReadPause() is { } pause)
        {
            return ReadAfterPauseAsync(pause, cancellationToken);
        }

        TimeIncompleteMessage();
        var read = _inner.ReadAsync(cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<ReadResult>(Inspect(read.Result)) : InspectAsync(read);
    }

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfViolated();
        TimeIncompleteMessage();
        if (_inner.TryRead(out result))
        {
            result = Inspect(result);
            return true;
        }

        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var consumedLength = _lastBuffer.Slice(0, consumed).Length;
        _inner.AdvanceTo(consumed, examined);
        _scanned -= consumedLength;
        _lastBuffer = default;
        _connection.Telemetry.OnReceived(consumedLength);
    }

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);

    private async ValueTask<ReadResult> ReadAfterPauseAsync(Task pause, CancellationToken cancellationToken)
    {
        // This side chose not to read: the peer is not to blame for the wait.
        _frameDeadline?.Stop();
        _keepAlive?.SetReadingPaused(true);
        await pause.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _keepAlive?.SetReadingPaused(false);
        cancellationToken.ThrowIfCancellationRequested();
        return await ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ReadResult> InspectAsync(ValueTask<ReadResult> read) => Inspect(await read.ConfigureAwait(false));

    private ReadResult Inspect(ReadResult result)
    {
        var buffer = result.Buffer;
        _lastBuffer = buffer;
        if (buffer.Length > _scanned)
        {
            _keepAlive?.Received();
            var completedBefore = _messagesCompleted;
            try
            {
                foreach (var segment in buffer.Slice(_scanned))
                {
                    Scan(segment.Span);
                }
            }
            catch (RpcProtocolException exception)
            {
                _violation = exception;
                _onViolation(exception);
                throw;
            }

            _scanned = buffer.Length;
            if (_messagesCompleted != completedBefore)
            {
                // StreamJsonRpc gets a whole message and may run its method inline before reading again: the deadline of
                // whatever follows starts when it does.
                _frameDeadline?.Stop();
            }
        }

        return result;
    }

    /// <summary>
    /// Starts the deadline when StreamJsonRpc asks for more bytes while the bytes received so far end inside a message:
    /// messages that arrive whole never touch the timer.
    /// </summary>
    private void TimeIncompleteMessage()
    {
        if ((_bodyRemaining != 0 || _headerBlockLength != 0) && _frameDeadline is { IsArmed: false } deadline)
        {
            deadline.Start();
        }
    }

    private void Scan(ReadOnlySpan<byte> span)
    {
        while (!span.IsEmpty)
        {
            if (_bodyRemaining > 0)
            {
                var skip = (int)Math.Min(_bodyRemaining, span.Length);
                _bodyRemaining -= skip;
                span = span[skip..];
                if (_bodyRemaining == 0)
                {
                    _messagesCompleted++;
                }

                continue;
            }

            // Inside a header block: copy up to the end of the current line.
            var newline = span.IndexOf((byte)'\n');
            var take = newline < 0 ? span.Length : newline;
            if (_headerBlockLength + take + 1 > MaxHeaderBlockSize)
            {
                throw new RpcProtocolException(
                    $"The peer sent a JSON-RPC header block longer than {MaxHeaderBlockSize} bytes without its terminating blank line; disconnecting.");
            }

            span[..take].CopyTo(_line.AsSpan(_lineLength));
            _lineLength += take;
            _headerBlockLength += take;
            if (newline < 0)
            {
                return;
            }

            _headerBlockLength++;
            span = span[(newline + 1)..];
            EndLine();
        }
    }

    private void EndLine()
    {
        var line = _line.AsSpan(0, _lineLength);
        _lineLength = 0;
        if (line.IsEmpty || line[^1] != (byte)'\r' || line[..^1].IndexOf((byte)'\r') >= 0)
        {
            throw new RpcProtocolException("The peer sent a JSON-RPC header line that does not end with CRLF; disconnecting.");
        }

        line = line[..^1];
        if (line.IsEmpty)
        {
            // The blank line: the header block is complete and the body follows.
            if (_contentLength < 0)
            {
                throw new RpcProtocolException("The peer sent a JSON-RPC message without a Content-Length header; disconnecting.");
            }

            _bodyRemaining = _contentLength;
            _contentLength = -1;
            _headerBlockLength = 0;
            return;
        }

        var colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            throw new RpcProtocolException("The peer sent a JSON-RPC header line without a colon; disconnecting.");
        }

        if (!line[..colon].SequenceEqual(ContentLengthName))
        {
            return; // Content-Type and unknown headers are StreamJsonRpc's business.
        }

        if (_contentLength >= 0)
        {
            throw new RpcProtocolException("The peer sent a JSON-RPC message with two Content-Length headers; disconnecting.");
        }

        var value = line[(colon + 1)..].Trim(" \t"u8);
        if (!Utf8Parser.TryParse(value, out long length, out var consumed) || consumed != value.Length || length <= 0)
        {
            throw new RpcProtocolException("The peer sent a JSON-RPC Content-Length that is not a positive number; disconnecting.");
        }

        if (length > _maxFrameSize)
        {
            throw new RpcProtocolException(
                $"The peer announced a JSON-RPC message of {length} bytes, over the {_maxFrameSize}-byte limit (RpcConnectionOptions.MaxFrameSize); disconnecting.");
        }

        _contentLength = length;
    }

    private void ThrowIfViolated()
    {
        if (_violation is not null)
        {
            throw _violation;
        }
    }
}
