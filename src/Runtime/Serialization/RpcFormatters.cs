using System;
using System.Buffers;
using MessagePack;

namespace Rpc.Serialization;

/// <summary>The built-in formatters for primitives, strings and byte payloads, as singletons generated code refers to.</summary>
public static class RpcFormatters
{
    /// <summary>Gets the formatter of <see cref="bool"/>.</summary>
    public static RpcFormatter<bool> Boolean { get; } = new BooleanFormatter();

    /// <summary>Gets the formatter of <see cref="byte"/>.</summary>
    public static RpcFormatter<byte> Byte { get; } = new ByteFormatter();

    /// <summary>Gets the formatter of <see cref="sbyte"/>.</summary>
    public static RpcFormatter<sbyte> SByte { get; } = new SByteFormatter();

    /// <summary>Gets the formatter of <see cref="short"/>.</summary>
    public static RpcFormatter<short> Int16 { get; } = new Int16Formatter();

    /// <summary>Gets the formatter of <see cref="ushort"/>.</summary>
    public static RpcFormatter<ushort> UInt16 { get; } = new UInt16Formatter();

    /// <summary>Gets the formatter of <see cref="int"/>.</summary>
    public static RpcFormatter<int> Int32 { get; } = new Int32Formatter();

    /// <summary>Gets the formatter of <see cref="uint"/>.</summary>
    public static RpcFormatter<uint> UInt32 { get; } = new UInt32Formatter();

    /// <summary>Gets the formatter of <see cref="long"/>.</summary>
    public static RpcFormatter<long> Int64 { get; } = new Int64Formatter();

    /// <summary>Gets the formatter of <see cref="ulong"/>.</summary>
    public static RpcFormatter<ulong> UInt64 { get; } = new UInt64Formatter();

    /// <summary>Gets the formatter of <see cref="float"/>.</summary>
    public static RpcFormatter<float> Single { get; } = new SingleFormatter();

    /// <summary>Gets the formatter of <see cref="double"/>.</summary>
    public static RpcFormatter<double> Double { get; } = new DoubleFormatter();

    /// <summary>Gets the formatter of <see cref="decimal"/>, written as its invariant string so no precision is lost.</summary>
    public static RpcFormatter<decimal> Decimal { get; } = new DecimalFormatter();

    /// <summary>Gets the formatter of <see cref="char"/>.</summary>
    public static RpcFormatter<char> Char { get; } = new CharFormatter();

    /// <summary>Gets the formatter of <see cref="string"/> (nullable).</summary>
    public static RpcFormatter<string?> String { get; } = new StringFormatter();

    /// <summary>Gets the formatter of <see cref="System.DateTime"/> (MessagePack timestamp; converted to UTC).</summary>
    public static RpcFormatter<DateTime> DateTime { get; } = new DateTimeFormatter();

    /// <summary>Gets the formatter of <see cref="System.DateTimeOffset"/> (UTC ticks and offset minutes).</summary>
    public static RpcFormatter<DateTimeOffset> DateTimeOffset { get; } = new DateTimeOffsetFormatter();

    /// <summary>Gets the formatter of <see cref="System.TimeSpan"/> (ticks).</summary>
    public static RpcFormatter<TimeSpan> TimeSpan { get; } = new TimeSpanFormatter();

    /// <summary>Gets the formatter of <see cref="System.Guid"/> (16 raw bytes).</summary>
    public static RpcFormatter<Guid> Guid { get; } = new GuidFormatter();

    /// <summary>Gets the formatter of <see cref="byte"/> arrays (MessagePack bin, nullable).</summary>
    public static RpcFormatter<byte[]?> ByteArray { get; } = new ByteArrayFormatter();

    /// <summary>Gets the formatter of <see cref="ReadOnlyMemory{T}"/> of bytes; reading allocates a fresh array.</summary>
    public static RpcFormatter<ReadOnlyMemory<byte>> ReadOnlyMemoryOfByte { get; } = new ReadOnlyMemoryOfByteFormatter();

    /// <summary>Gets the formatter of <see cref="Memory{T}"/> of bytes; reading allocates a fresh array.</summary>
    public static RpcFormatter<Memory<byte>> MemoryOfByte { get; } = new MemoryOfByteFormatter();

    /// <summary>
    /// Gets the formatter of <see cref="Rpc.RpcBuffer"/>: reading rents from the shared array pool; writing returns the
    /// written buffer to the pool, since a buffer given to the runtime is the runtime's.
    /// </summary>
    public static RpcFormatter<RpcBuffer?> RpcBuffer { get; } = new RpcBufferFormatter();

    private sealed class BooleanFormatter : RpcFormatter<bool>
    {
        public override void Write(ref MessagePackWriter writer, bool value) => writer.Write(value);

        public override bool Read(ref MessagePackReader reader) => reader.ReadBoolean();
    }

    private sealed class ByteFormatter : RpcFormatter<byte>
    {
        public override void Write(ref MessagePackWriter writer, byte value) => writer.Write(value);

        public override byte Read(ref MessagePackReader reader) => reader.ReadByte();
    }

    private sealed class SByteFormatter : RpcFormatter<sbyte>
    {
        public override void Write(ref MessagePackWriter writer, sbyte value) => writer.Write(value);

        public override sbyte Read(ref MessagePackReader reader) => reader.ReadSByte();
    }

    private sealed class Int16Formatter : RpcFormatter<short>
    {
        public override void Write(ref MessagePackWriter writer, short value) => writer.Write(value);

        public override short Read(ref MessagePackReader reader) => reader.ReadInt16();
    }

    private sealed class UInt16Formatter : RpcFormatter<ushort>
    {
        public override void Write(ref MessagePackWriter writer, ushort value) => writer.Write(value);

        public override ushort Read(ref MessagePackReader reader) => reader.ReadUInt16();
    }

    private sealed class Int32Formatter : RpcFormatter<int>
    {
        public override void Write(ref MessagePackWriter writer, int value) => writer.Write(value);

        public override int Read(ref MessagePackReader reader) => reader.ReadInt32();
    }

    private sealed class UInt32Formatter : RpcFormatter<uint>
    {
        public override void Write(ref MessagePackWriter writer, uint value) => writer.Write(value);

        public override uint Read(ref MessagePackReader reader) => reader.ReadUInt32();
    }

    private sealed class Int64Formatter : RpcFormatter<long>
    {
        public override void Write(ref MessagePackWriter writer, long value) => writer.Write(value);

        public override long Read(ref MessagePackReader reader) => reader.ReadInt64();
    }

    private sealed class UInt64Formatter : RpcFormatter<ulong>
    {
        public override void Write(ref MessagePackWriter writer, ulong value) => writer.Write(value);

        public override ulong Read(ref MessagePackReader reader) => reader.ReadUInt64();
    }

    private sealed class SingleFormatter : RpcFormatter<float>
    {
        public override void Write(ref MessagePackWriter writer, float value) => writer.Write(value);

        public override float Read(ref MessagePackReader reader) => reader.ReadSingle();
    }

    private sealed class DoubleFormatter : RpcFormatter<double>
    {
        public override void Write(ref MessagePackWriter writer, double value) => writer.Write(value);

        public override double Read(ref MessagePackReader reader) => reader.ReadDouble();
    }

    private sealed class DecimalFormatter : RpcFormatter<decimal>
    {
        public override void Write(ref MessagePackWriter writer, decimal value) =>
            writer.Write(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

        public override decimal Read(ref MessagePackReader reader) =>
            decimal.Parse(reader.ReadString() ?? throw UntrustedData.UnexpectedNil("decimal"), System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class CharFormatter : RpcFormatter<char>
    {
        public override void Write(ref MessagePackWriter writer, char value) => writer.Write(value);

        public override char Read(ref MessagePackReader reader) => reader.ReadChar();
    }

    private sealed class StringFormatter : RpcFormatter<string?>
    {
        public override void Write(ref MessagePackWriter writer, string? value) => writer.Write(value);

        public override string? Read(ref MessagePackReader reader) => reader.ReadString();
    }

    private sealed class DateTimeFormatter : RpcFormatter<DateTime>
    {
        public override void Write(ref MessagePackWriter writer, DateTime value) => writer.Write(value.ToUniversalTime());

        public override DateTime Read(ref MessagePackReader reader) => reader.ReadDateTime();
    }

    private sealed class DateTimeOffsetFormatter : RpcFormatter<DateTimeOffset>
    {
        public override void Write(ref MessagePackWriter writer, DateTimeOffset value)
        {
            writer.WriteArrayHeader(2);
            writer.Write(value.UtcTicks);
            writer.Write((short)value.Offset.TotalMinutes);
        }

        public override DateTimeOffset Read(ref MessagePackReader reader)
        {
            if (reader.ReadArrayHeader() != 2)
            {
                throw new MessagePackSerializationException("A DateTimeOffset is an array of two items.");
            }

            var utcTicks = reader.ReadInt64();
            var offset = System.TimeSpan.FromMinutes(reader.ReadInt16());
            return new DateTimeOffset(utcTicks + offset.Ticks, offset);
        }
    }

    private sealed class TimeSpanFormatter : RpcFormatter<TimeSpan>
    {
        public override void Write(ref MessagePackWriter writer, TimeSpan value) => writer.Write(value.Ticks);

        public override TimeSpan Read(ref MessagePackReader reader) => new(reader.ReadInt64());
    }

    private sealed class GuidFormatter : RpcFormatter<Guid>
    {
        public override void Write(ref MessagePackWriter writer, Guid value)
        {
            writer.WriteBinHeader(16);
            value.TryWriteBytes(writer.GetSpan(16));
            writer.Advance(16);
        }

        public override Guid Read(ref MessagePackReader reader)
        {
            var bytes = reader.ReadBytes() ?? throw UntrustedData.UnexpectedNil("Guid");
            if (bytes.Length != 16)
            {
                throw new MessagePackSerializationException("A Guid is 16 bytes.");
            }

            System.Span<byte> copy = stackalloc byte[16];
            bytes.CopyTo(copy);
            return new Guid(copy);
        }
    }

    private sealed class ByteArrayFormatter : RpcFormatter<byte[]?>
    {
        public override void Write(ref MessagePackWriter writer, byte[]? value) => writer.Write(value);

        public override byte[]? Read(ref MessagePackReader reader) => reader.ReadBytes()?.ToArray();
    }

    private sealed class ReadOnlyMemoryOfByteFormatter : RpcFormatter<ReadOnlyMemory<byte>>
    {
        public override void Write(ref MessagePackWriter writer, ReadOnlyMemory<byte> value) => writer.Write(value.Span);

        public override ReadOnlyMemory<byte> Read(ref MessagePackReader reader) => reader.ReadBytes()?.ToArray() ?? default;
    }

    private sealed class MemoryOfByteFormatter : RpcFormatter<Memory<byte>>
    {
        public override void Write(ref MessagePackWriter writer, Memory<byte> value) => writer.Write(value.Span);

        public override Memory<byte> Read(ref MessagePackReader reader) => reader.ReadBytes()?.ToArray() ?? default;
    }

    private sealed class RpcBufferFormatter : RpcFormatter<RpcBuffer?>
    {
        public override void Write(ref MessagePackWriter writer, RpcBuffer? value)
        {
            if (value is null)
            {
                writer.WriteNil();
            }
            else
            {
                // Handing a buffer to the runtime hands over ownership (see RpcBuffer): once its bytes are in the
                // frame, it goes back to the pool.
                writer.Write(value.Span);
                value.Dispose();
            }
        }

        public override RpcBuffer? Read(ref MessagePackReader reader)
        {
            if (reader.ReadBytes() is not { } bytes)
            {
                return null;
            }

            var buffer = Rpc.RpcBuffer.Rent(checked((int)bytes.Length));
            bytes.CopyTo(buffer.Span);
            return buffer;
        }
    }
}
