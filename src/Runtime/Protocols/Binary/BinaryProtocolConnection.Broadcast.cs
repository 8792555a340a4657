using System;
using System.Buffers;
using System.Threading.Tasks;
using Rpc.Runtime;

namespace Rpc.Protocols.Binary;

/// <summary>
/// What <see cref="RpcGroup{TContract}"/> needs from the engine: a notification frame serialized once for every member,
/// and a way to send frames that are already built through this connection's one write path.
/// </summary>
internal sealed partial class BinaryProtocolConnection
{
    /// <summary>
    /// Serializes a notification frame (exactly the bytes <see cref="Notify{TArguments}"/> would send) into an array
    /// rented from <see cref="ArrayPool{T}.Shared"/>; the caller returns it. Serialization runs in the thread's
    /// <see cref="FrameBuffer"/>, so a formatter that throws leaves nothing behind.
    /// </summary>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="length">The frame's size in bytes, length prefix included.</param>
    /// <returns>The rented array holding the frame in its first <paramref name="length"/> bytes.</returns>
    internal static byte[] RentNotificationFrame<TArguments>(RpcMethod method, in TArguments arguments, out int length)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var frame = FrameBuffer.ForCurrentThread();
        try
        {
            var writer = frame.Begin(FrameKind.Notification, 0, method.Id);
            new ArgumentsPayload<TArguments>(arguments).Write(ref writer);
            frame.End(ref writer);
            length = frame.WrittenCount;
            var rented = ArrayPool<byte>.Shared.Rent(length);
            frame.WrittenSpan.CopyTo(rented);
            return rented;
        }
        finally
        {
            frame.Reset();
        }
    }

    /// <summary>
    /// Sends one or more complete frames, back to back, through the connection's write path (write-combining and
    /// back-pressure included). The returned task is pending only while more than the connection's backlog limit waits
    /// to be sent: a caller that awaits it before sending more keeps this connection's memory bounded.
    /// </summary>
    /// <param name="frames">Whole frames, each with its length prefix, and no partial frame.</param>
    /// <returns>A task that completes when the caller may send more.</returns>
    /// <exception cref="ConnectionLostException">The connection is closed.</exception>
    internal ValueTask SendPrebuiltFrames(ReadOnlySpan<byte> frames) => SendBytes(frames);
}
