using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Runtime;

namespace Rpc.Protocols.Binary;

/// <summary>The receive loop: frames in, calls completed and dispatched inline.</summary>
internal sealed partial class BinaryProtocolConnection
{
    private async Task ReceiveLoopAsync()
    {
        // Let the caller of Start return before the first read; later reads resume on the transport's receive thread.
        await Task.Yield();
        Exception? error = null;
        var input = _transport.Input;
        try
        {
            var helloReceived = await ReceiveHelloAsync(input).ConfigureAwait(false);
            while (helloReceived && !IsClosed)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                _keepAlive?.Received();
                var buffer = result.Buffer;
                var received = buffer.Length;
                long left;
                var stoppedEarly = false;
                try
                {
                    stoppedEarly = ProcessFrames(ref buffer);
                }
                finally
                {
                    left = buffer.Length;

                    // After an early stop, complete frames may be left: mark nothing examined, so the next read returns
                    // them at once instead of waiting for more bytes.
                    if (stoppedEarly)
                    {
                        input.AdvanceTo(buffer.Start);
                    }
                    else
                    {
                        input.AdvanceTo(buffer.Start, buffer.End);
                    }
                }

                Telemetry.OnReceived(received - left);
                TimeIncompleteFrame(remainsIncomplete: !stoppedEarly && left != 0, startedNewFrame: left != received);

                if (TakeReadPause() is { } pause)
                {
                    _frameDeadline?.Stop();
                    _keepAlive?.SetReadingPaused(true);

                    // A full dispatcher queue, or a service that made one of this peer's calls wait for room: read nothing
                    // until it ends, so the transport's buffers fill and the peer's sends slow down.
                    await pause.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    _keepAlive?.SetReadingPaused(false);
                }

                if (stoppedEarly)
                {
                    continue;
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    if (!buffer.IsEmpty && !IsClosed)
                    {
                        error = new ConnectionLostException($"The peer closed the connection in the middle of a frame ({buffer.Length} bytes of it were received).");
                    }

                    break;
                }

                if (IsBacklogged)
                {
                    _frameDeadline?.Stop();
                    _keepAlive?.SetReadingPaused(true);

                    // The peer is not reading our replies: stop reading its calls until it does, so back-pressure
                    // reaches it through the transport instead of replies piling up here.
                    await WhenBacklogDrainedAsync().ConfigureAwait(false);
                    _keepAlive?.SetReadingPaused(false);
                }
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }

        if (error is null && !IsClosed)
        {
            PeerHungUp = true;
            error = new ConnectionLostException(_peerVersion > ProtocolHello.CurrentVersion
                ? $"The peer closed the connection. It announced version {_peerVersion} of Rpc's binary protocol, newer than this side's {ProtocolHello.CurrentVersion}: " +
                    "if it closed right after the hello, it no longer speaks this side's version (its own error says so)."
                : "The peer closed the connection.");
        }

        Close(error);
        await _transport.Input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the peer's hello (see <see cref="ProtocolHello"/>), which comes before any frame. Frames pipelined behind it
    /// stay in the pipe for the frame loop.
    /// </summary>
    /// <returns><see langword="false"/> when the connection closed first (locally, or by the hello timeout).</returns>
    private async Task<bool> ReceiveHelloAsync(System.IO.Pipelines.PipeReader input)
    {
        while (!IsClosed)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var received = false;
            try
            {
                received = ProtocolHello.TryRead(ref buffer, out _peerVersion);
            }
            finally
            {
                // Once read, the rest is frames: marked unexamined, so the next read returns them without waiting.
                input.AdvanceTo(buffer.Start, received ? buffer.Start : buffer.End);
            }

            if (received)
            {
                Telemetry.OnReceived(ProtocolHello.Size);
                _helloTimer!.Dispose();
                return true;
            }

            if (result.IsCanceled)
            {
                return false;
            }

            if (result.IsCompleted)
            {
                throw new ConnectionLostException(buffer.IsEmpty
                    ? "The peer closed the connection before sending its hello."
                    : $"The peer closed the connection in the middle of its hello ({buffer.Length} of {ProtocolHello.Size} bytes were received).");
            }
        }

        return false;
    }

    /// <summary>Closes a connection whose peer has not sent a complete hello within <see cref="Transports.TransportOptions.HandshakeTimeout"/>.</summary>
    private void OnHelloTimeout() => Close(new RpcProtocolException(
        $"The peer sent no complete hello within {_options.Transport.HandshakeTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s " +
        "(TransportOptions.HandshakeTimeout): it does not speak Rpc's binary protocol (a JSON-RPC peer waits for a request first), or it is stopped; disconnecting."));

    /// <summary>Sends a keepalive ping; the peer answers with a pong, which, like anything it sends, shows it is alive.</summary>
    private void SendPing()
    {
        try
        {
            PostFrame(FrameKind.Ping, Interlocked.Increment(ref _lastPingId), 0, default(EmptyPayload));
        }
        catch (ConnectionLostException)
        {
            // Closed meanwhile: nothing left to keep alive.
        }
    }

    /// <summary>
    /// Keeps <see cref="RpcConnectionOptions.FrameTimeout"/>'s deadline on the frame left incomplete by a read: started
    /// when one is first left (or when a read completed frames and left the start of the next), stopped when none is,
    /// and during any pause of reading this side chose. Frames that arrive whole never touch the timer.
    /// </summary>
    private void TimeIncompleteFrame(bool remainsIncomplete, bool startedNewFrame)
    {
        if (_frameDeadline is not { } deadline)
        {
            return;
        }

        if (!remainsIncomplete)
        {
            deadline.Stop();
        }
        else if (startedNewFrame || !deadline.IsArmed)
        {
            deadline.Start();
        }
    }

    /// <summary>Processes every complete frame in <paramref name="buffer"/>.</summary>
    /// <returns><see langword="true"/> when it stopped before the end on purpose (back-pressure); frames may remain.</returns>
    private bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        Cork();
        try
        {
            while (!IsClosed)
            {
                var remaining = buffer;
                if (!TryReadFrame(ref buffer, out var kind, out var id, out var methodId, out var requestHeader, out var payload))
                {
                    return false;
                }

                if (FrameHeader.HasMethodId(kind) && _options.Dispatcher is { } dispatcher && !_dispatchSlotReserved)
                {
                    if (!dispatcher.TryReserve())
                    {
                        buffer = remaining;
                        PauseReading(ReserveDispatchSlotAsync(dispatcher));
                        return true;
                    }

                    _dispatchSlotReserved = true;
                }

                ProcessFrame(kind, id, methodId, requestHeader, payload);
                if (IsBacklogged || IsReadPauseRequested)
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            Uncork();
        }
    }

    /// <summary>Waits for a queue slot for the call frame the receive loop put back; the loop reads again once it has one.</summary>
    private async Task ReserveDispatchSlotAsync(RpcDispatcher dispatcher)
    {
        await dispatcher.ReserveAsync(CancellationToken.None).ConfigureAwait(false);
        lock (IncomingGate)
        {
            // Close gives back a reserved slot under this lock; after it, nobody would.
            if (IsClosed)
            {
                dispatcher.Unreserve();
            }
            else
            {
                _dispatchSlotReserved = true;
            }
        }
    }

    /// <summary>
    /// Takes one complete frame off the front of <paramref name="buffer"/>. The length prefix is checked against the
    /// limit as soon as its four bytes arrive, before anything else is buffered: a forged 2 GiB length disconnects.
    /// </summary>
    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out FrameKind kind, out uint id, out uint methodId, out RequestHeader requestHeader, out ReadOnlySequence<byte> payload)
    {
        kind = default;
        id = 0;
        methodId = 0;
        requestHeader = default;
        payload = default;
        if (buffer.Length < FrameHeader.LengthSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[FrameHeader.RequestSize];
        var available = (int)Math.Min(buffer.Length, FrameHeader.RequestSize);
        buffer.Slice(0, available).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length > (uint)_options.MaxFrameSize)
        {
            throw new RpcProtocolException(
                $"The peer announced a frame of {length} bytes, over the {_options.MaxFrameSize}-byte limit (RpcConnectionOptions.MaxFrameSize); disconnecting.");
        }

        if (length < FrameHeader.MinimumLength)
        {
            throw new RpcProtocolException($"The peer sent a frame of {length} bytes, shorter than any frame header.");
        }

        if (buffer.Length < FrameHeader.LengthSize + length)
        {
            return false;
        }

        kind = (FrameKind)header[FrameHeader.LengthSize];
        var hasRequestHeader = (kind & FrameKind.HasHeader) != 0;
        kind &= ~FrameKind.HasHeader;
        if (kind is < FrameKind.Request or > FrameKind.Pong)
        {
            throw new RpcProtocolException($"The peer sent a frame of unknown kind {header[FrameHeader.LengthSize]}.");
        }

        if (hasRequestHeader && !FrameHeader.HasMethodId(kind))
        {
            throw new RpcProtocolException($"The peer sent a {kind} frame flagged with a request header, which only requests carry.");
        }

        id = BinaryPrimitives.ReadUInt32LittleEndian(header[(FrameHeader.LengthSize + 1)..]);
        var headerSize = FrameHeader.Size;
        if (FrameHeader.HasMethodId(kind))
        {
            if (length < FrameHeader.RequestSize - FrameHeader.LengthSize)
            {
                throw new RpcProtocolException($"The peer sent a {kind} frame too short to hold a method id.");
            }

            methodId = BinaryPrimitives.ReadUInt32LittleEndian(header[FrameHeader.Size..]);
            headerSize = FrameHeader.RequestSize;
        }

        payload = buffer.Slice(headerSize, FrameHeader.LengthSize + length - headerSize);
        buffer = buffer.Slice(FrameHeader.LengthSize + length);
        if (hasRequestHeader)
        {
            requestHeader = RequestHeader.Read(ref payload);
        }

        return true;
    }

    private void ProcessFrame(FrameKind kind, uint id, uint methodId, in RequestHeader requestHeader, ReadOnlySequence<byte> payload)
    {
        switch (kind)
        {
            case FrameKind.Request:
            case FrameKind.Notification:
            case FrameKind.StreamRequest:
                OnIncomingCall(kind, id, methodId, requestHeader, payload);
                break;
            case FrameKind.Response:
                OnResponse(id, payload);
                break;
            case FrameKind.Error:
                OnError(id, payload);
                break;
            case FrameKind.Cancel:
                OnCancel(id);
                break;
            case FrameKind.StreamItem:
                OnStreamItem(id, payload);
                break;
            case FrameKind.StreamEnd:
                OnStreamEnd(id);
                break;
            case FrameKind.StreamCredit:
                OnStreamCredit(id, payload);
                break;
            case FrameKind.Ping:
                // Answered from the receive loop, so a busy dispatcher does not delay it past the peer's timeout.
                PostFrame(FrameKind.Pong, id, 0, default(EmptyPayload));
                break;
            case FrameKind.Pong:
                // Its arrival is the sign of life; the read that brought it already counted.
                break;
        }
    }

    private void OnResponse(uint id, ReadOnlySequence<byte> payload)
    {
        if (!TryTakePending(id, out var entry))
        {
            return;
        }

        if (entry.Method.Kind == RpcMethodKind.Stream)
        {
            throw FailTakenCall(entry, $"The peer sent a plain reply for call {id}, which is a stream.");
        }

        if (entry.Reader is null)
        {
            entry.Call.Complete();
            return;
        }

        var reader = new MessagePackReader(payload);
        try
        {
            entry.Reader.Deliver(entry.Call, ref reader);
        }
        catch (Exception exception)
        {
            entry.Call.Fail(new RpcException($"The reply could not be read as the method's result type: {exception.Message}", exception));
        }
    }

    private void OnError(uint id, ReadOnlySequence<byte> payload)
    {
        // Read before taking the call: an unreadable reply closes the connection, and Close fails only calls still pending.
        var reader = new MessagePackReader(payload);
        RemoteInvocationException error;
        try
        {
            error = ErrorPayload.Read(ref reader);
        }
        catch (Exception exception)
        {
            throw new RpcProtocolException($"The peer sent an unreadable error reply: {exception.Message}", exception);
        }

        if (TryTakePending(id, out var entry))
        {
            entry.Call.Fail(error.ErrorCode switch
            {
                RpcErrorCode.MethodNotFound => NameUnknownMethod(error, entry.Method),

                // The server's clock reached the deadline first: the caller sees the same exception as from its own.
                RpcErrorCode.DeadlineExceeded => new RpcTimeoutException($"The call to '{entry.Method.WireName}' did not complete before its deadline (the server stopped it).", error),
                _ => error,
            });
        }
    }

    private void OnStreamItem(uint id, ReadOnlySequence<byte> payload)
    {
        PendingEntry entry;
        lock (PendingGate)
        {
            if (!_pending.TryGetValue(id, out entry))
            {
                ThrowIfNeverSent(id);
                return;
            }
        }

        if (entry.Method.Kind != RpcMethodKind.Stream || entry.Reader is not { } itemReader)
        {
            throw new RpcProtocolException($"The peer sent a stream item for call {id}, which is not a stream.");
        }

        var reader = new MessagePackReader(payload);
        try
        {
            itemReader.Deliver(entry.Call, ref reader);
        }
        catch (RpcProtocolException)
        {
            throw;
        }
        catch (Exception exception)
        {
            if (TryRemovePending(id))
            {
                SendCancelQuietly(id);
                entry.Call.Fail(new RpcException($"A stream item could not be read as the stream's item type: {exception.Message}", exception));
            }
        }
    }

    private void OnStreamEnd(uint id)
    {
        if (!TryTakePending(id, out var entry))
        {
            return;
        }

        if (entry.Method.Kind != RpcMethodKind.Stream)
        {
            throw FailTakenCall(entry, $"The peer sent a stream end for call {id}, which is not a stream.");
        }

        entry.Call.Complete();
    }

    /// <summary>
    /// Fails a call already taken off the pending calls for a reply that does not fit it: Close ends only the calls
    /// still pending, so without this the caller would wait forever.
    /// </summary>
    /// <returns>The violation, for the receive loop to close the connection with.</returns>
    private static RpcProtocolException FailTakenCall(in PendingEntry entry, string message)
    {
        var violation = new RpcProtocolException(message);
        entry.Call.Fail(violation);
        return violation;
    }

    private bool TryTakePending(uint id, out PendingEntry entry)
    {
        lock (PendingGate)
        {
            if (_pending.Remove(id, out entry))
            {
                entry.Release();
                return true;
            }

            ThrowIfNeverSent(id);
            return false;
        }
    }

    /// <summary>
    /// A reply to an id that is not pending is normal after a local cancellation; a reply to an id never issued is a
    /// protocol violation (as in StreamJsonRpc), since nothing after it can be trusted.
    /// </summary>
    private void ThrowIfNeverSent(uint id)
    {
        if (id == 0 || (!_requestIdsWrapped && id > _lastRequestId))
        {
            throw new RpcProtocolException($"The peer replied to call {id}, which was never made.");
        }
    }
}
