namespace Rpc.Generator.Model;

/// <summary>What a <c>Formatters</c> field is initialized with.</summary>
internal enum FormatterFieldKind
{
    /// <summary><c>new {ObjectFormatterClass}()</c>.</summary>
    Object,

    /// <summary><c>new NullableFormatter&lt;T&gt;(underlying)</c>.</summary>
    Nullable,

    /// <summary><c>new ArrayFormatter&lt;T&gt;(element)</c>.</summary>
    Array,

    /// <summary><c>new ListFormatter&lt;TCollection, T&gt;(element)</c>.</summary>
    List,

    /// <summary><c>new HashSetFormatter&lt;TSet, T&gt;(element)</c>.</summary>
    HashSet,

    /// <summary><c>new DictionaryFormatter&lt;TDictionary, TKey, TValue&gt;(key, value)</c>.</summary>
    Dictionary,
}

/// <summary>One field of the generated <c>Formatters</c> class.</summary>
/// <param name="Name">The field name.</param>
/// <param name="FormattedTypeName">The <c>T</c> of its <c>RpcFormatter&lt;T&gt;</c> (with <c>?</c> for reference types).</param>
/// <param name="CollectionTypeName">The declared collection type, without a top-level <c>?</c>.</param>
/// <param name="Kind">How it is initialized.</param>
/// <param name="Elements">The element (or key and value, or underlying) types.</param>
/// <param name="ObjectFormatterClass">For <see cref="FormatterFieldKind.Object"/>, the generated formatter class.</param>
internal sealed record FormatterFieldSpec(
    string Name,
    string FormattedTypeName,
    string CollectionTypeName,
    FormatterFieldKind Kind,
    EquatableArray<TypeSpec> Elements,
    string? ObjectFormatterClass);

/// <summary>A generated formatter of a user record, class or struct, written as an array of its members.</summary>
/// <param name="ClassName">The generated formatter class.</param>
/// <param name="TypeName">The user type, fully qualified, without <c>?</c>.</param>
/// <param name="ConstructibleTypeName">The user type as a <c>new</c> expression spells it (tuples as <c>ValueTuple&lt;…&gt;</c>).</param>
/// <param name="IsValueType">Whether it is a struct (no nil).</param>
/// <param name="Members">The members in wire order: base-class members first, then declaration order.</param>
/// <param name="ConstructorArguments">Indexes into <paramref name="Members"/> of the constructor's arguments, in parameter order.</param>
/// <param name="ReadNames">Names of the reader's infrastructure locals.</param>
internal sealed record ObjectFormatterSpec(
    string ClassName,
    string TypeName,
    string ConstructibleTypeName,
    bool IsValueType,
    EquatableArray<MemberSpec> Members,
    EquatableArray<int> ConstructorArguments,
    ReaderNames ReadNames);

/// <summary>One serialized member of a user type.</summary>
/// <param name="Name">The member name as a C# identifier.</param>
/// <param name="DisplayName">The member name as declared, for error messages.</param>
/// <param name="LocalName">The reader's local that holds it.</param>
/// <param name="Type">The type.</param>
/// <param name="IsConstructorArgument">Whether it is passed to the constructor rather than set in the initializer.</param>
/// <param name="RequiresNotNull">Whether a nil read for it is an error.</param>
/// <param name="IsRequired">Whether it is a <c>required</c> member, set in the initializer even when also a constructor argument.</param>
internal sealed record MemberSpec(
    string Name,
    string DisplayName,
    string LocalName,
    TypeSpec Type,
    bool IsConstructorArgument,
    bool RequiresNotNull,
    bool IsRequired)
{
    /// <summary>Gets whether the object initializer sets it.</summary>
    public bool IsInitialized => !IsConstructorArgument || IsRequired;
}
