using System;
using MessagePack;

namespace Rpc.Serialization;

/// <summary>
/// The guards every formatter applies to bytes from a peer, the same limits as MessagePack-CSharp's
/// <c>MessagePackSecurity.UntrustedData</c>: a nesting limit (no stack overflow from deep input) and element counts that
/// must fit in the bytes actually received (no huge allocation from a forged length).
/// </summary>
public static class UntrustedData
{
    /// <summary>The deepest nesting of arrays, maps and objects accepted. MessagePack-CSharp's default is 500; RPC payloads never need that.</summary>
    public const int MaxDepth = 64;

    /// <summary>Enters one level of nesting.</summary>
    /// <param name="reader">The reader.</param>
    /// <remarks>Throws <c>MessagePackSerializationException</c> when the payload nests deeper than <see cref="MaxDepth"/>.</remarks>
    public static void EnterNested(ref MessagePackReader reader)
    {
        if (++reader.Depth > MaxDepth)
        {
            throw new MessagePackSerializationException($"The payload nests deeper than {MaxDepth} levels.");
        }
    }

    /// <summary>Leaves one level of nesting.</summary>
    /// <param name="reader">The reader.</param>
    public static void ExitNested(ref MessagePackReader reader) => reader.Depth--;

    /// <summary>Reads an array header and checks that its count can fit in the remaining bytes (each element takes at least one).</summary>
    /// <param name="reader">The reader.</param>
    /// <returns>The element count.</returns>
    /// <remarks>Throws <c>MessagePackSerializationException</c> when the count exceeds the remaining bytes.</remarks>
    public static int ReadArrayHeader(ref MessagePackReader reader)
    {
        var count = reader.ReadArrayHeader();
        CheckCount(ref reader, count, bytesPerElement: 1);
        return count;
    }

    /// <summary>Reads a map header and checks that its count can fit in the remaining bytes (each entry takes at least two).</summary>
    /// <param name="reader">The reader.</param>
    /// <returns>The entry count.</returns>
    /// <remarks>Throws <c>MessagePackSerializationException</c> when the count exceeds the remaining bytes.</remarks>
    public static int ReadMapHeader(ref MessagePackReader reader)
    {
        var count = reader.ReadMapHeader();
        CheckCount(ref reader, count, bytesPerElement: 2);
        return count;
    }

    private static void CheckCount(ref MessagePackReader reader, int count, int bytesPerElement)
    {
        if ((long)count * bytesPerElement > reader.Sequence.Length - reader.Consumed)
        {
            throw new MessagePackSerializationException($"The payload announces {count} elements but holds fewer bytes than that.");
        }
    }

    /// <summary>Throws the error for a nil where a value type was expected.</summary>
    /// <param name="typeName">The expected type.</param>
    /// <returns>Never returns.</returns>
    public static Exception UnexpectedNil(string typeName) =>
        new MessagePackSerializationException($"Expected {typeName} but found nil.");

    /// <summary>Rejects a nil read for a parameter or member whose type is a non-nullable reference type.</summary>
    /// <typeparam name="T">The reference type.</typeparam>
    /// <param name="value">The value read.</param>
    /// <param name="name">The parameter or member name, for the error message.</param>
    /// <returns><paramref name="value"/>, known not to be <see langword="null"/>.</returns>
    /// <remarks>Throws <c>MessagePackSerializationException</c> when <paramref name="value"/> is <see langword="null"/>.</remarks>
    public static T NotNull<T>(T? value, string name)
        where T : class =>
        value ?? throw new MessagePackSerializationException($"'{name}' is nil but its type is not nullable.");
}
