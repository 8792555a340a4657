namespace Rpc.Generator.Model;

/// <summary>A serializable type as it is spelled at one use site.</summary>
/// <param name="TypeName">Fully qualified, with the use site's <c>?</c> when it is nullable.</param>
/// <param name="NonNullableTypeName">Fully qualified, without a top-level <c>?</c> on a reference type.</param>
/// <param name="IsReferenceType">Whether the type is a reference type.</param>
/// <param name="IsNullable">Whether <see langword="null"/> is a valid value (annotated or oblivious reference type, <c>Nullable&lt;T&gt;</c>).</param>
/// <param name="Formatter">Where its formatter lives.</param>
internal sealed record TypeSpec(string TypeName, string NonNullableTypeName, bool IsReferenceType, bool IsNullable, FormatterRef Formatter)
{
    /// <summary>Gets whether a read value must be checked for nil (a non-nullable reference type).</summary>
    public bool RequiresNotNull => IsReferenceType && !IsNullable;

    /// <summary>Gets the type of a local that may still hold <see langword="null"/> before the check.</summary>
    public string LocalTypeName => IsReferenceType ? NonNullableTypeName + "?" : TypeName;
}

/// <summary>How generated code reaches a formatter.</summary>
internal enum FormatterRefKind
{
    /// <summary>A property of <c>Rpc.Serialization.RpcFormatters</c>, named <see cref="FormatterRef.Name"/>.</summary>
    BuiltIn,

    /// <summary><c>EnumFormatter&lt;T&gt;.Instance</c> where <see cref="FormatterRef.Name"/> is the enum type.</summary>
    Enum,

    /// <summary><c>SharedArrayFormatter&lt;T&gt;.Instance</c> where <see cref="FormatterRef.Name"/> is the element type.</summary>
    SharedArray,

    /// <summary><c>SharedArraySliceFormatter&lt;T&gt;.Instance</c> where <see cref="FormatterRef.Name"/> is the element type.</summary>
    SharedArraySlice,

    /// <summary>A field of the generated <c>Formatters</c> class, named <see cref="FormatterRef.Name"/>.</summary>
    Field,
}

/// <summary>Where a formatter lives.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Name">The property, enum type or field name.</param>
internal sealed record FormatterRef(FormatterRefKind Kind, string Name);
