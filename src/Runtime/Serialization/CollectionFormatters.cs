using System;
using System.Collections.Generic;
using MessagePack;

namespace Rpc.Serialization;

/// <summary>Writes <c>T[]</c> as a MessagePack array (nullable).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="element">The element formatter.</param>
public sealed class ArrayFormatter<T>(RpcFormatter<T> element) : RpcFormatter<T[]?>
{
    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, T[]? value)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        writer.WriteArrayHeader(value.Length);
        foreach (var item in value)
        {
            element.Write(ref writer, item);
        }
    }

    /// <inheritdoc />
    public override T[]? Read(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        UntrustedData.EnterNested(ref reader);
        var count = UntrustedData.ReadArrayHeader(ref reader);
        var result = count == 0 ? [] : new T[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = element.Read(ref reader);
        }

        UntrustedData.ExitNested(ref reader);
        return result;
    }
}

/// <summary>
/// Writes any <typeparamref name="TCollection"/> that enumerates <typeparamref name="T"/> as a MessagePack array, and reads
/// it back into a <typeparamref name="TBuilder"/>, which must be assignable to <typeparamref name="TCollection"/> (the
/// generator only pairs them so).
/// </summary>
/// <typeparam name="TCollection">The declared collection type.</typeparam>
/// <typeparam name="T">The element type.</typeparam>
/// <typeparam name="TBuilder">The concrete collection a read produces.</typeparam>
/// <param name="element">The element formatter.</param>
public abstract class SequenceFormatter<TCollection, T, TBuilder>(RpcFormatter<T> element) : RpcFormatter<TCollection?>
    where TCollection : class, IEnumerable<T>
    where TBuilder : ICollection<T>
{
    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, TCollection? value)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        if (value is List<T> list)
        {
            writer.WriteArrayHeader(list.Count);
            foreach (var item in list)
            {
                element.Write(ref writer, item);
            }

            return;
        }

        // Materialized once so the header count and the items written always agree, even for lazy sequences.
        var items = value as IReadOnlyCollection<T> ?? new List<T>(value);
        writer.WriteArrayHeader(items.Count);
        foreach (var item in items)
        {
            element.Write(ref writer, item);
        }
    }

    /// <inheritdoc />
    public override TCollection? Read(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        UntrustedData.EnterNested(ref reader);
        var count = UntrustedData.ReadArrayHeader(ref reader);
        var result = CreateBuilder(count);
        for (var i = 0; i < count; i++)
        {
            result.Add(element.Read(ref reader));
        }

        UntrustedData.ExitNested(ref reader);
        return (TCollection)(object)result;
    }

    /// <summary>Creates the collection a read fills.</summary>
    /// <param name="count">The number of elements that will be added (already checked against the payload size).</param>
    /// <returns>An empty collection.</returns>
    protected abstract TBuilder CreateBuilder(int count);
}

/// <summary>
/// Serves <c>List&lt;T&gt;</c>, <c>IList&lt;T&gt;</c>, <c>IReadOnlyList&lt;T&gt;</c>, <c>ICollection&lt;T&gt;</c>,
/// <c>IReadOnlyCollection&lt;T&gt;</c> and <c>IEnumerable&lt;T&gt;</c>: reads produce a <see cref="List{T}"/>.
/// </summary>
/// <typeparam name="TCollection">The declared collection type; <see cref="List{T}"/> must be assignable to it.</typeparam>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="element">The element formatter.</param>
public sealed class ListFormatter<TCollection, T>(RpcFormatter<T> element) : SequenceFormatter<TCollection, T, List<T>>(element)
    where TCollection : class, IEnumerable<T>
{
    /// <inheritdoc />
    protected override List<T> CreateBuilder(int count) => new(count);
}

/// <summary>Serves <see cref="HashSet{T}"/>, <c>ISet&lt;T&gt;</c> and <c>IReadOnlySet&lt;T&gt;</c>: reads produce a <see cref="HashSet{T}"/>.</summary>
/// <typeparam name="TSet">The declared set type; <see cref="HashSet{T}"/> must be assignable to it.</typeparam>
/// <typeparam name="T">The element type.</typeparam>
/// <param name="element">The element formatter.</param>
public sealed class HashSetFormatter<TSet, T>(RpcFormatter<T> element) : SequenceFormatter<TSet, T, HashSet<T>>(element)
    where TSet : class, IEnumerable<T>
{
    /// <inheritdoc />
    protected override HashSet<T> CreateBuilder(int count) => new(count);
}

/// <summary>
/// Writes a dictionary as a MessagePack map and reads it back as a <see cref="Dictionary{TKey, TValue}"/>; serves
/// <c>Dictionary</c>, <c>IDictionary</c> and <c>IReadOnlyDictionary</c>. Duplicate keys in the input are an error.
/// </summary>
/// <typeparam name="TDictionary">The declared type; <see cref="Dictionary{TKey, TValue}"/> must be assignable to it.</typeparam>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The value type.</typeparam>
/// <param name="key">The key formatter.</param>
/// <param name="value">The value formatter.</param>
public sealed class DictionaryFormatter<TDictionary, TKey, TValue>(RpcFormatter<TKey> key, RpcFormatter<TValue> value) : RpcFormatter<TDictionary?>
    where TDictionary : class, IEnumerable<KeyValuePair<TKey, TValue>>
    where TKey : notnull
{
    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, TDictionary? dictionary)
    {
        if (dictionary is null)
        {
            writer.WriteNil();
            return;
        }

        var entries = dictionary as IReadOnlyCollection<KeyValuePair<TKey, TValue>> ?? new List<KeyValuePair<TKey, TValue>>(dictionary);
        writer.WriteMapHeader(entries.Count);
        foreach (var entry in entries)
        {
            key.Write(ref writer, entry.Key);
            value.Write(ref writer, entry.Value);
        }
    }

    /// <inheritdoc />
    public override TDictionary? Read(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        UntrustedData.EnterNested(ref reader);
        var count = UntrustedData.ReadMapHeader(ref reader);

        // Dictionary<string, …> switches to randomized hashing when it sees many collisions, so forged keys cannot
        // turn lookups quadratic.
        var result = new Dictionary<TKey, TValue>(count);
        for (var i = 0; i < count; i++)
        {
            var entryKey = key.Read(ref reader);
            if (!result.TryAdd(entryKey, value.Read(ref reader)))
            {
                throw new MessagePackSerializationException($"The map repeats the key '{entryKey}'.");
            }
        }

        UntrustedData.ExitNested(ref reader);
        return (TDictionary)(object)result;
    }
}

/// <summary>Writes a <see cref="Nullable{T}"/> as nil or its value.</summary>
/// <typeparam name="T">The underlying value type.</typeparam>
/// <param name="underlying">The formatter of the underlying type.</param>
public sealed class NullableFormatter<T>(RpcFormatter<T> underlying) : RpcFormatter<T?>
    where T : struct
{
    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, T? value)
    {
        if (value is { } present)
        {
            underlying.Write(ref writer, present);
        }
        else
        {
            writer.WriteNil();
        }
    }

    /// <inheritdoc />
    public override T? Read(ref MessagePackReader reader) => reader.TryReadNil() ? null : underlying.Read(ref reader);
}

/// <summary>Writes an enum as its underlying integer, so renaming members never breaks the wire.</summary>
/// <typeparam name="TEnum">The enum type.</typeparam>
public sealed class EnumFormatter<TEnum> : RpcFormatter<TEnum>
    where TEnum : struct, Enum
{
    /// <summary>Gets the singleton.</summary>
    public static EnumFormatter<TEnum> Instance { get; } = new();

    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, TEnum value)
    {
        // The size switch is constant per TEnum, so the JIT and the AOT compiler keep one branch.
        switch (System.Runtime.CompilerServices.Unsafe.SizeOf<TEnum>())
        {
            case 1: writer.Write(System.Runtime.CompilerServices.Unsafe.As<TEnum, sbyte>(ref value)); break;
            case 2: writer.Write(System.Runtime.CompilerServices.Unsafe.As<TEnum, short>(ref value)); break;
            case 4: writer.Write(System.Runtime.CompilerServices.Unsafe.As<TEnum, int>(ref value)); break;
            default: writer.Write(System.Runtime.CompilerServices.Unsafe.As<TEnum, long>(ref value)); break;
        }
    }

    /// <inheritdoc />
    public override TEnum Read(ref MessagePackReader reader)
    {
        switch (System.Runtime.CompilerServices.Unsafe.SizeOf<TEnum>())
        {
            case 1:
                var int8 = (sbyte)reader.ReadInt16();
                return System.Runtime.CompilerServices.Unsafe.As<sbyte, TEnum>(ref int8);
            case 2:
                var int16 = (short)reader.ReadInt32();
                return System.Runtime.CompilerServices.Unsafe.As<short, TEnum>(ref int16);
            case 4:
                var int32 = (int)reader.ReadInt64();
                return System.Runtime.CompilerServices.Unsafe.As<int, TEnum>(ref int32);
            default:
                var int64 = reader.ReadInt64();
                return System.Runtime.CompilerServices.Unsafe.As<long, TEnum>(ref int64);
        }
    }
}
