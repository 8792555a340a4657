using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;

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

    /// <summary>W3C <c>traceparent</c> (ASCII), sent only when the caller's span is recorded.</summary>
    public const byte TraceParentTag = 2;

    /// <summary>W3C <c>tracestate</c> (ASCII), sent only with a <c>traceparent</c> and when not empty.</summary>
    public const byte TraceStateTag = 3;

    private const int LengthSize = 2;
    private const int FieldHeaderSize = 1 + 2;
    private const int DeadlineSize = 8;

    private static readonly ulong MaxDeadlineMicroseconds = (ulong)(RpcCallOptions.MaxTimeout.Ticks / TimeSpan.TicksPerMicrosecond);

    // A W3C tracestate is at most 32 members of at most 256 characters; anything longer is not a trace context.
    private const int MaxTraceContextLength = 32 * 257;

    // "00-" trace id "-" span id "-" flags: the only version of the format.
    private const int TraceParentLength = 3 + 32 + 1 + 16 + 1 + 2;

    // The sending side's span: its traceparent is written from its ids, not made into a string first.
    private readonly Activity? _span;

    /// <summary>A header as read, or one that carries no span.</summary>
    public RequestHeader(TimeSpan? deadline, string? traceParent = null, string? traceState = null)
    {
        Deadline = deadline;
        TraceParent = traceParent;
        TraceState = traceParent is null ? null : ValidTraceState(traceState);
    }

    /// <summary>The header of a call whose span (a W3C one) is recorded: the span travels as its trace context.</summary>
    public RequestHeader(TimeSpan? deadline, Activity span)
    {
        Deadline = deadline;
        _span = span;
        TraceState = ValidTraceState(span.TraceStateString);
    }

    /// <summary>Gets the time the caller still waits, or <see langword="null"/> when the call has no deadline.</summary>
    public TimeSpan? Deadline { get; }

    /// <summary>Gets the caller's span as a W3C <c>traceparent</c>, or <see langword="null"/> when none was recorded.</summary>
    public string? TraceParent { get; }

    /// <summary>Gets the caller's W3C <c>tracestate</c>, or <see langword="null"/>.</summary>
    public string? TraceState { get; }

    public bool IsEmpty => Deadline is null && TraceParent is null && _span is null;

    /// <summary>Gets the bytes <see cref="Write"/> writes (0 when empty: no header is sent at all).</summary>
    public int Size => IsEmpty
        ? 0
        : LengthSize
            + (Deadline is null ? 0 : FieldHeaderSize + DeadlineSize)
            + (_span is not null ? FieldHeaderSize + TraceParentLength : TraceParent is null ? 0 : FieldHeaderSize + TraceParent.Length)
            + (TraceState is null ? 0 : FieldHeaderSize + TraceState.Length);

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)(Size - LengthSize));
        var field = destination[LengthSize..];
        if (Deadline is { } deadline)
        {
            field[0] = DeadlineTag;
            BinaryPrimitives.WriteUInt16LittleEndian(field[1..], DeadlineSize);
            BinaryPrimitives.WriteUInt64LittleEndian(field[FieldHeaderSize..], (ulong)Math.Max(0, deadline.Ticks / TimeSpan.TicksPerMicrosecond));
            field = field[(FieldHeaderSize + DeadlineSize)..];
        }

        field = _span is null ? WriteText(field, TraceParentTag, TraceParent) : WriteTraceParent(field, _span);
        WriteText(field, TraceStateTag, TraceState);
    }

    private static string? ValidTraceState(string? traceState) =>
        string.IsNullOrEmpty(traceState) || traceState.Length > MaxTraceContextLength ? null : traceState;

    /// <summary>Writes <paramref name="span"/>'s <c>traceparent</c> (what <see cref="Activity.Id"/> is, for a W3C span).</summary>
    private static Span<byte> WriteTraceParent(Span<byte> field, Activity span)
    {
        field[0] = TraceParentTag;
        BinaryPrimitives.WriteUInt16LittleEndian(field[1..], TraceParentLength);
        var text = field.Slice(FieldHeaderSize, TraceParentLength);
        "00-"u8.CopyTo(text);
        Encoding.ASCII.GetBytes(span.TraceId.ToHexString(), text[3..]);
        text[35] = (byte)'-';
        Encoding.ASCII.GetBytes(span.SpanId.ToHexString(), text[36..]);
        text[52] = (byte)'-';
        ((byte)span.ActivityTraceFlags).TryFormat(text[53..], out _, "x2", CultureInfo.InvariantCulture);
        return field[(FieldHeaderSize + TraceParentLength)..];
    }

    private static Span<byte> WriteText(Span<byte> field, byte tag, string? text)
    {
        if (text is null)
        {
            return field;
        }

        field[0] = tag;
        BinaryPrimitives.WriteUInt16LittleEndian(field[1..], (ushort)text.Length);
        Encoding.ASCII.GetBytes(text, field[FieldHeaderSize..]);
        return field[(FieldHeaderSize + text.Length)..];
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
        string? traceParent = null;
        string? traceState = null;
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
            switch (tag)
            {
                case DeadlineTag:
                    deadline = ReadDeadline(value);
                    break;
                case TraceParentTag:
                    traceParent = ReadText(value);
                    break;
                case TraceStateTag:
                    traceState = ReadText(value);
                    break;
            }

            // Other tags (fields of newer peers) are skipped.
            fields = fields.Slice(FieldHeaderSize + fieldLength);
        }

        return deadline is null && traceParent is null ? default : new RequestHeader(deadline, traceParent, traceState);
    }

    /// <summary>Reads a trace-context field; its syntax is checked where it is used (<c>ActivityContext.TryParse</c>).</summary>
    private static string? ReadText(ReadOnlySequence<byte> value)
    {
        if (value.Length > MaxTraceContextLength)
        {
            throw new RpcProtocolException($"The peer sent a trace-context field of {value.Length} bytes; the longest W3C trace context is {MaxTraceContextLength}.");
        }

        return value.IsEmpty ? null : Encoding.ASCII.GetString(value);
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
