using System;
using System.Buffers;
using System.Buffers.Binary;

namespace Rpc.Protocols.Binary;

/// <summary>
/// The optional header of a request frame (kind flagged with <see cref="FrameKind.HasHeader"/>), after the method id:
/// <c>[u16 LE length][fields…]</c>, each field <c>[u8 tag][u16 LE length][bytes]</c>. Frame code only asks for its
/// <see cref="Size"/>, <see cref="Write"/>s it and <see cref="Read"/>s it, so adding a field touches this type alone.
/// </summary>
internal readonly struct RequestHeader
{
    /// <summary>The remaining time of the call, in microseconds (u64 LE): relative, since two machines' clocks differ.</summary>
    public const byte DeadlineTag = 1;

    /// <summary>W3C <c>traceparent</c> (ASCII); not used yet, so skipped when read.</summary>
    public const byte TraceParentTag = 2;

    /// <summary>W3C <c>tracestate</c> (ASCII); not used yet, so skipped when read.</summary>
    public const byte TraceStateTag = 3;

    private const int LengthSize = 2;
    private const int FieldHeaderSize = 1 + 2;
    private const int DeadlineSize = 8;

    private static readonly ulong MaxDeadlineMicroseconds = (ulong)(RpcCallOptions.MaxTimeout.Ticks / TimeSpan.TicksPerMicrosecond);

    public RequestHeader(TimeSpan deadline)
    {
        Deadline = deadline;
    }

    /// <summary>Gets the time the caller still waits, or <see langword="null"/> when the call has no deadline.</summary>
    public TimeSpan? Deadline { get; }

    public bool IsEmpty => Deadline is null;

    /// <summary>Gets the bytes <see cref="Write"/> writes (0 when empty: no header is sent at all).</summary>
    public int Size => IsEmpty ? 0 : LengthSize + FieldHeaderSize + DeadlineSize;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)(Size - LengthSize));
        var field = destination[LengthSize..];
        if (Deadline is { } deadline)
        {
            field[0] = DeadlineTag;
            BinaryPrimitives.WriteUInt16LittleEndian(field[1..], DeadlineSize);
            BinaryPrimitives.WriteUInt64LittleEndian(field[FieldHeaderSize..], (ulong)Math.Max(0, deadline.Ticks / TimeSpan.TicksPerMicrosecond));
        }
    }

    /// <summary>Reads the header at the start of <paramref name="payload"/> and slices it off.</summary>
    /// <exception cref="RpcProtocolException">The header does not fit the frame or a field does not fit the header.</exception>
    public static RequestHeader Read(ref ReadOnlySequence<byte> payload)
    {
        if (payload.Length < LengthSize)
        {
            throw new RpcProtocolException("The peer sent a request flagged with a header too short to hold the header's length.");
        }

        Span<byte> lengthBytes = stackalloc byte[LengthSize];
        payload.Slice(0, LengthSize).CopyTo(lengthBytes);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(lengthBytes);
        if (payload.Length - LengthSize < length)
        {
            throw new RpcProtocolException($"The peer sent a request header of {length} bytes in a frame with {payload.Length - LengthSize} bytes left.");
        }

        var fields = payload.Slice(LengthSize, length);
        payload = payload.Slice(LengthSize + length);
        TimeSpan? deadline = null;
        Span<byte> fieldHeader = stackalloc byte[FieldHeaderSize];
        while (!fields.IsEmpty)
        {
            if (fields.Length < FieldHeaderSize)
            {
                throw new RpcProtocolException("The peer sent a request header whose last field is cut short.");
            }

            fields.Slice(0, FieldHeaderSize).CopyTo(fieldHeader);
            var tag = fieldHeader[0];
            int fieldLength = BinaryPrimitives.ReadUInt16LittleEndian(fieldHeader[1..]);
            if (fields.Length - FieldHeaderSize < fieldLength)
            {
                throw new RpcProtocolException($"The peer sent a request header field (tag {tag}) of {fieldLength} bytes that overruns the header.");
            }

            var value = fields.Slice(FieldHeaderSize, fieldLength);
            if (tag == DeadlineTag)
            {
                deadline = ReadDeadline(value);
            }

            // Other tags (trace context, and fields of newer peers) are skipped.
            fields = fields.Slice(FieldHeaderSize + fieldLength);
        }

        return deadline is { } remaining ? new RequestHeader(remaining) : default;
    }

    /// <returns>The remaining time, or <see langword="null"/> when it is beyond any timer (the same as none).</returns>
    private static TimeSpan? ReadDeadline(ReadOnlySequence<byte> value)
    {
        if (value.Length != DeadlineSize)
        {
            throw new RpcProtocolException($"The peer sent a deadline of {value.Length} bytes; a deadline is {DeadlineSize}.");
        }

        Span<byte> bytes = stackalloc byte[DeadlineSize];
        value.CopyTo(bytes);
        var microseconds = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return microseconds > MaxDeadlineMicroseconds ? null : TimeSpan.FromTicks((long)microseconds * TimeSpan.TicksPerMicrosecond);
    }
}
