using System;
using System.Buffers;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Protocols.Binary;

/// <summary>The send path: one writer at a time on the pipe, write-combining while a flush is under way.</summary>
internal sealed partial class BinaryProtocolConnection
{
    private readonly object _writeGate = new();

    // A FlushAsync is outstanding; meanwhile the pipe writer belongs to the flusher and others append to the backlog.
    private bool _flushing;

    // The receive loop is working through a batch on thread _corkThreadId: its frames are flushed at the end of the batch.
    private bool _corked;
    private int _corkThreadId;
    private bool _unflushed;

    private ArrayBufferWriter<byte>? _backlog;
    private List<TaskCompletionSource>? _backlogWaiters;

    /// <summary>
    /// Writes one frame. Throws synchronously (and sends nothing) when the payload cannot be serialized, exceeds the
    /// frame limit, or the connection is closed. The returned task is already complete unless the transport is applying
    /// back-pressure and more than <see cref="MaxBacklogBytes"/> wait to be sent: then it completes when they have drained.
    /// </summary>
    private ValueTask SendFrame<TPayload>(FrameKind kind, uint id, uint methodId, in TPayload payload)
        where TPayload : struct, IFramePayload =>
        SendFrame(kind, id, methodId, default, payload);

    /// <inheritdoc cref="SendFrame{TPayload}(FrameKind, uint, uint, in TPayload)"/>
    private ValueTask SendFrame<TPayload>(FrameKind kind, uint id, uint methodId, in RequestHeader requestHeader, in TPayload payload)
        where TPayload : struct, IFramePayload
    {
        var frame = FrameBuffer.ForCurrentThread();
        try
        {
            var writer = frame.Begin(kind, id, methodId, requestHeader);
            payload.Write(ref writer);
            var length = frame.End(ref writer);
            if (length > _options.MaxFrameSize)
            {
                throw new RpcException(
                    $"The {kind} frame is {length} bytes, over the connection's {_options.MaxFrameSize}-byte limit (RpcConnectionOptions.MaxFrameSize); nothing was sent.");
            }

            return SendBytes(frame.WrittenSpan);
        }
        finally
        {
            frame.Reset();
        }
    }

    /// <summary>Writes a frame nobody waits on (replies, cancellations, credits, notifications).</summary>
    private void PostFrame<TPayload>(FrameKind kind, uint id, uint methodId, in TPayload payload)
        where TPayload : struct, IFramePayload =>
        PostFrame(kind, id, methodId, default, payload);

    /// <inheritdoc cref="PostFrame{TPayload}(FrameKind, uint, uint, in TPayload)"/>
    private void PostFrame<TPayload>(FrameKind kind, uint id, uint methodId, in RequestHeader requestHeader, in TPayload payload)
        where TPayload : struct, IFramePayload
    {
        var sent = SendFrame(kind, id, methodId, requestHeader, payload);
        if (!sent.IsCompleted)
        {
            // Only a backlog wait is ever pending; a failure there is a close, which reports itself.
            _ = sent.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private ValueTask SendBytes(ReadOnlySpan<byte> frame)
    {
        lock (_writeGate)
        {
            ThrowIfClosed();
            if (_flushing)
            {
                _backlog ??= new ArrayBufferWriter<byte>();
                _backlog.Write(frame);
                if (_backlog.WrittenCount <= MaxBacklogBytes)
                {
                    return default;
                }

                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                (_backlogWaiters ??= []).Add(waiter);
                return new ValueTask(waiter.Task);
            }

            try
            {
                _transport.Output.Write(frame);
            }
            catch (InvalidOperationException) when (IsClosed)
            {
                // Closed between the check and the write: the pipe writer was completed under us.
                ThrowIfClosed();
            }

            if (_corked && _corkThreadId == Environment.CurrentManagedThreadId)
            {
                _unflushed = true;
                return default;
            }

            _flushing = true;
        }

        FlushUntilIdle();
        return default;
    }

    /// <summary>Flushes, then flushes whatever other threads appended meanwhile, until nothing is left.</summary>
    private void FlushUntilIdle()
    {
        try
        {
            while (true)
            {
                var flush = FlushOutput();
                if (!flush.IsCompletedSuccessfully)
                {
                    _ = FlushUntilIdleAsync(flush);
                    return;
                }

                if (flush.Result.IsCompleted)
                {
                    Close(new ConnectionLostException("The peer's transport stopped accepting data."));
                    return;
                }

                if (!TakeBacklogOrStopFlushing())
                {
                    return;
                }
            }
        }
        catch (Exception exception)
        {
            Close(new ConnectionLostException($"Sending to the peer failed: {exception.Message}", exception));
        }
    }

    private async Task FlushUntilIdleAsync(ValueTask<System.IO.Pipelines.FlushResult> pending)
    {
        try
        {
            var result = await pending.ConfigureAwait(false);
            while (!result.IsCompleted && TakeBacklogOrStopFlushing())
            {
                result = await FlushOutput().ConfigureAwait(false);
            }

            if (result.IsCompleted)
            {
                Close(new ConnectionLostException("The peer's transport stopped accepting data."));
            }
        }
        catch (Exception exception)
        {
            Close(new ConnectionLostException($"Sending to the peer failed: {exception.Message}", exception));
        }
    }

    private ValueTask<System.IO.Pipelines.FlushResult> FlushOutput()
    {
        var output = _transport.Output;
        Telemetry.OnFlushing(output);
        return output.FlushAsync();
    }

    /// <summary>Moves the backlog into the pipe (returns <see langword="true"/>: flush again) or ends the flushing turn.</summary>
    private bool TakeBacklogOrStopFlushing()
    {
        List<TaskCompletionSource>? released = null;
        lock (_writeGate)
        {
            if (_backlog is not { WrittenCount: > 0 } backlog)
            {
                _flushing = false;
                _unflushed = false;
                return false;
            }

            _transport.Output.Write(backlog.WrittenSpan);
            backlog.ResetWrittenCount();
            if (backlog.Capacity > MaxBacklogBytes)
            {
                _backlog = null;
            }

            released = _backlogWaiters;
            _backlogWaiters = null;
        }

        if (released is not null)
        {
            foreach (var waiter in released)
            {
                waiter.TrySetResult();
            }
        }

        return true;
    }

    /// <summary>Flushes what was written without a flush (the hello), unless a flush under way picks it up.</summary>
    private void FlushWritten()
    {
        lock (_writeGate)
        {
            if (_flushing || IsClosed)
            {
                return;
            }

            _flushing = true;
        }

        FlushUntilIdle();
    }

    /// <summary>Starts batching the frames this thread writes.</summary>
    private void Cork()
    {
        lock (_writeGate)
        {
            _corked = true;
            _corkThreadId = Environment.CurrentManagedThreadId;
        }
    }

    /// <summary>Ends a batch: flushes what it wrote, unless a flush already under way will pick it up.</summary>
    private void Uncork()
    {
        lock (_writeGate)
        {
            _corked = false;
            if (!_unflushed || _flushing || IsClosed)
            {
                return;
            }

            _unflushed = false;
            _flushing = true;
        }

        FlushUntilIdle();
    }

    /// <summary>Gets whether so much waits to be sent that the receive loop should stop taking new calls.</summary>
    private bool IsBacklogged
    {
        get
        {
            lock (_writeGate)
            {
                return _backlog is { WrittenCount: > MaxBacklogBytes };
            }
        }
    }

    private Task WhenBacklogDrainedAsync()
    {
        lock (_writeGate)
        {
            if (_backlog is not { WrittenCount: > MaxBacklogBytes })
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_backlogWaiters ??= []).Add(waiter);
            return waiter.Task;
        }
    }

    private void ReleaseBacklogWaiters(Exception reason)
    {
        List<TaskCompletionSource>? waiters;
        lock (_writeGate)
        {
            waiters = _backlogWaiters;
            _backlogWaiters = null;
            _backlog = null;
        }

        if (waiters is not null)
        {
            foreach (var waiter in waiters)
            {
                waiter.TrySetException(reason);
            }
        }
    }

    private void ThrowIfClosed()
    {
        if (IsClosed)
        {
            throw CloseReason as ConnectionLostException
                ?? new ConnectionLostException(
                    CloseReason is null ? "The connection is closed." : $"The connection was lost: {CloseReason.Message}", CloseReason);
        }
    }
}
