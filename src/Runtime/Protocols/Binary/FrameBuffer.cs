using System;
using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace Rpc.Protocols.Binary;

/// <summary>
/// Where one outgoing frame is assembled before it is copied to the transport: serializing into a private buffer keeps
/// a formatter that throws mid-way, or a payload over the size limit, from leaving half a frame on the wire.
/// One per thread, so callers on different threads serialize in parallel; its array is pooled and kept between frames
/// unless a large frame grew it.
/// </summary>
internal sealed class FrameBuffer : IBufferWriter<byte>
{
    private const int InitialSize = 4096;
    private const int RetainedSize = 256 * 1024;

    [ThreadStatic]
    private static FrameBuffer? t_current;

    private byte[] _array = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _written;

    public static FrameBuffer ForCurrentThread() => t_current ??= new FrameBuffer();

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _written);

    public int WrittenCount => _written;

    /// <summary>Starts a frame: reserves the header and returns a writer for the payload.</summary>
    public MessagePackWriter Begin(FrameKind kind, uint id, uint methodId) => Begin(kind, id, methodId, default);

    /// <summary>Starts a request frame with a <see cref="RequestHeader"/> (none, and no flag, when it is empty).</summary>
    public MessagePackWriter Begin(FrameKind kind, uint id, uint methodId, RequestHeader requestHeader)
    {
        _written = 0;
        var headerSize = FrameHeader.HasMethodId(kind) ? FrameHeader.RequestSize : FrameHeader.Size;
        var requestHeaderSize = requestHeader.Size;
        var header = GetSpan(headerSize + requestHeaderSize);
        header[FrameHeader.LengthSize] = (byte)(requestHeaderSize == 0 ? kind : kind | FrameKind.HasHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(header[(FrameHeader.LengthSize + 1)..], id);
        if (headerSize == FrameHeader.RequestSize)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header[FrameHeader.Size..], methodId);
        }

        if (requestHeaderSize != 0)
        {
            requestHeader.Write(header.Slice(headerSize, requestHeaderSize));
        }

        Advance(headerSize + requestHeaderSize);
        return new MessagePackWriter(this);
    }

    /// <summary>Ends the frame: fills in the length prefix.</summary>
    /// <returns>The frame's length as announced on the wire (everything after the prefix).</returns>
    public long End(ref MessagePackWriter writer)
    {
        writer.Flush();
        var length = _written - FrameHeader.LengthSize;
        BinaryPrimitives.WriteUInt32LittleEndian(_array, (uint)length);
        return length;
    }

    /// <summary>Forgets the frame and gives back a large array so one big payload doesn't pin memory per thread.</summary>
    public void Reset()
    {
        _written = 0;
        if (_array.Length > RetainedSize)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(InitialSize);
        }
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _array.AsSpan(_written);
    }

    private void EnsureCapacity(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed <= _array.Length)
        {
            return;
        }

        var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(needed, (long)_array.Length * 2)));
        _array.AsSpan(0, _written).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_array);
        _array = grown;
    }
}
