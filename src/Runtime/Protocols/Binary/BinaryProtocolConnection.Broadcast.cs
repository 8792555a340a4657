using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Connections;
using Rpc.Runtime;

namespace Rpc.Protocols.Binary;

/// <summary>
/// The binary protocol's fan-out: a notification frame serialized once for every binary connection, and batches of
/// such frames sent through this connection's one write path.
/// </summary>
internal sealed partial class BinaryProtocolConnection
{
    // A batch is copied into one buffer and handed to the write path at once: one flush (one send()) per batch instead
    // of one per message, which is what keeps up with a fast publisher.
    private const int PreparedBatchBytes = 64 * 1024;

    /// <summary>
    /// Serializes a notification frame (exactly the bytes <see cref="Notify{TArguments}"/> would send) into an array
    /// rented from <see cref="ArrayPool{T}.Shared"/>, returned when the message is released. Serialization runs in the
    /// thread's <see cref="FrameBuffer"/>, so a formatter that throws leaves nothing behind.
    /// </summary>
    public override PreparedMessage PrepareNotification<TArguments>(RpcMethod method, in TArguments arguments)
    {
        var frame = FrameBuffer.ForCurrentThread();
        try
        {
            var writer = frame.Begin(FrameKind.Notification, 0, method.Id);
            new ArgumentsPayload<TArguments>(arguments).Write(ref writer);
            frame.End(ref writer);
            var length = frame.WrittenCount;
            var rented = ArrayPool<byte>.Shared.Rent(length);
            frame.WrittenSpan.CopyTo(rented);
            return new PreparedFrame(rented, length);
        }
        finally
        {
            frame.Reset();
        }
    }

    /// <summary>Copies the frames back to back into batches and writes each batch at once (write-combining and back-pressure included).</summary>
    public override ValueTask SendPrepared(ReadOnlySpan<PreparedMessage> messages, ref int handedOver)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(PreparedBatchBytes);
        var used = 0;
        Task? backlogged = null;
        try
        {
            foreach (var message in messages)
            {
                var frame = (PreparedFrame)message;
                if (used + frame.Length > buffer.Length)
                {
                    Flush(buffer.AsSpan(0, used), ref backlogged);
                    used = 0;
                }

                if (frame.Length > buffer.Length)
                {
                    Flush(frame.Bytes, ref backlogged);
                }
                else
                {
                    frame.Bytes.CopyTo(buffer.AsSpan(used));
                    used += frame.Length;
                }

                handedOver++;
            }

            Flush(buffer.AsSpan(0, used), ref backlogged);
            return backlogged is null ? ValueTask.CompletedTask : new ValueTask(backlogged);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Flush(ReadOnlySpan<byte> frames, ref Task? backlogged)
    {
        if (frames.IsEmpty)
        {
            return;
        }

        var sent = SendBytes(frames);
        if (!sent.IsCompletedSuccessfully)
        {
            // Every waiter of one backlog is released together, so the last one is enough to wait for.
            backlogged = sent.AsTask();
        }
    }

    /// <summary>A notification frame, serialized once, sent as the same bytes to every binary connection.</summary>
    private sealed class PreparedFrame(byte[] array, int length) : PreparedMessage(RpcProtocol.Binary)
    {
        private byte[]? _array = array;

        public int Length { get; } = length;

        public ReadOnlySpan<byte> Bytes => _array.AsSpan(0, Length);

        public override void EnsureSendableWith(RpcConnectionOptions options)
        {
            // The length prefix is not part of the announced length the limit applies to.
            var announced = Length - 4;
            if (announced > options.MaxFrameSize)
            {
                throw new RpcException(
                    $"The notification frame is {announced} bytes, over a member's {options.MaxFrameSize}-byte limit (RpcConnectionOptions.MaxFrameSize); nothing was sent.");
            }
        }

        protected override void OnReleased()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array)
            {
                ArrayPool<byte>.Shared.Return(array);
            }
        }
    }
}
