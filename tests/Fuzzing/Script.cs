using System;
using System.Buffers.Binary;

namespace Rpc.Fuzzing;

/// <summary>Reads a fuzz input as a sequence of little-endian operands; every read fails once the input is used up.</summary>
internal ref struct Script(ReadOnlySpan<byte> input, int start)
{
    private ReadOnlySpan<byte> _rest = input[Math.Min(start, input.Length)..];

    public bool TryReadByte(out byte value)
    {
        var ok = TryReadBytes(1, out var bytes);
        value = ok ? bytes[0] : default;
        return ok;
    }

    public bool TryReadUInt16(out ushort value)
    {
        var ok = TryReadBytes(2, out var bytes);
        value = ok ? BinaryPrimitives.ReadUInt16LittleEndian(bytes) : default;
        return ok;
    }

    public bool TryReadUInt32(out uint value)
    {
        var ok = TryReadBytes(4, out var bytes);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : default;
        return ok;
    }

    public bool TryReadUInt64(out ulong value)
    {
        var ok = TryReadBytes(8, out var bytes);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(bytes) : default;
        return ok;
    }

    public bool TryReadBytes(int count, out ReadOnlySpan<byte> bytes)
    {
        if (_rest.Length < count)
        {
            bytes = default;
            return false;
        }

        bytes = _rest[..count];
        _rest = _rest[count..];
        return true;
    }
}
