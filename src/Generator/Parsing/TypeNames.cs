using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;

namespace Rpc.Generator.Parsing;

/// <summary>
/// Spells types the way generated code needs them: <c>global::</c> on every named type, keywords for special types,
/// <c>?</c> on nullable (and nullable-oblivious) reference types, tuples as <c>ValueTuple&lt;…&gt;</c>.
/// </summary>
internal static class TypeNames
{
    /// <summary>Spells <paramref name="type"/> with its top-level nullability.</summary>
    public static string Render(ITypeSymbol type) => Render(type, includeTopLevelAnnotation: true);

    /// <summary>Spells <paramref name="type"/> without a top-level <c>?</c> on a reference type.</summary>
    public static string RenderNonNullable(ITypeSymbol type) => Render(type, includeTopLevelAnnotation: false);

    /// <summary>Whether null is a valid value of a reference type at this use site (annotated or oblivious).</summary>
    public static bool IsNullableReference(ITypeSymbol type) =>
        type.IsReferenceType && type.NullableAnnotation != NullableAnnotation.NotAnnotated;

    /// <summary>Spells <paramref name="type"/> for a <c>new</c> expression: a tuple as <c>ValueTuple&lt;…&gt;</c>, no <c>?</c>.</summary>
    public static string RenderConstructible(ITypeSymbol type)
    {
        var builder = new StringBuilder();
        Append(builder, type, includeAnnotation: false, expandTopLevelTuple: true);
        return builder.ToString();
    }

    private static string Render(ITypeSymbol type, bool includeTopLevelAnnotation)
    {
        var builder = new StringBuilder();
        Append(builder, type, includeTopLevelAnnotation);
        return builder.ToString();
    }

    private static void Append(StringBuilder builder, ITypeSymbol type, bool includeAnnotation, bool expandTopLevelTuple = false)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                Append(builder, array.ElementType, includeAnnotation: true);
                builder.Append('[').Append(',', array.Rank - 1).Append(']');
                break;

            case INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable:
                Append(builder, nullable.TypeArguments[0], includeAnnotation: false);
                builder.Append('?');
                return;

            case INamedTypeSymbol named when Keyword(named.SpecialType) is { } keyword:
                builder.Append(keyword);
                break;

            case INamedTypeSymbol { IsTupleType: true } tuple when expandTopLevelTuple:
                AppendNamed(builder, tuple.TupleUnderlyingType ?? tuple);
                break;

            case INamedTypeSymbol { IsTupleType: true } tuple:
                // Tuple syntax keeps the element names, which an explicit implementation must repeat exactly.
                builder.Append('(');
                for (var i = 0; i < tuple.TupleElements.Length; i++)
                {
                    var element = tuple.TupleElements[i];
                    builder.Append(i > 0 ? ", " : string.Empty);
                    Append(builder, element.Type, includeAnnotation: true);
                    if (!SymbolEqualityComparer.Default.Equals(element, element.CorrespondingTupleField))
                    {
                        builder.Append(' ').Append(NameAllocator.EscapeIdentifier(element.Name));
                    }
                }

                builder.Append(')');
                break;

            case INamedTypeSymbol named:
                AppendNamed(builder, named);
                break;

            default:
                builder.Append(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat));
                break;
        }

        if (includeAnnotation && IsNullableReference(type))
        {
            builder.Append('?');
        }
    }

    private static void AppendNamed(StringBuilder builder, INamedTypeSymbol named)
    {
        if (named.ContainingType is { } containing)
        {
            AppendNamed(builder, containing);
            builder.Append('.');
        }
        else if (named.ContainingNamespace is { IsGlobalNamespace: false } ns)
        {
            builder.Append(ns.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)).Append('.');
        }
        else
        {
            builder.Append("global::");
        }

        builder.Append(NameAllocator.EscapeIdentifier(named.Name));
        if (named.TypeArguments.Length > 0)
        {
            builder.Append('<');
            for (var i = 0; i < named.TypeArguments.Length; i++)
            {
                if (i > 0)
                {
                    builder.Append(", ");
                }

                Append(builder, named.TypeArguments[i], includeAnnotation: true);
            }

            builder.Append('>');
        }
    }

    /// <summary>The full name the runtime reports for a contract (<c>Demo.Outer.ICalculator</c>).</summary>
    public static string FullName(INamedTypeSymbol type) =>
        type.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None));

    /// <summary>A short, readable spelling for messages (<c>List&lt;Point&gt;</c>).</summary>
    public static string Display(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat);

    /// <summary>The name stem used for a formatter field or class (<c>ListOfPoint</c>).</summary>
    public static string Stem(ITypeSymbol type, bool includeAnnotation)
    {
        var prefix = includeAnnotation && IsNullableReference(type) ? "Nullable" : string.Empty;
        switch (type)
        {
            case IArrayTypeSymbol array:
                return prefix + "ArrayOf" + Stem(array.ElementType, includeAnnotation: true);
            case INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable:
                return "Nullable" + Stem(nullable.TypeArguments[0], includeAnnotation: false);
            case INamedTypeSymbol named when BuiltInName(named.SpecialType) is { } builtIn:
                return prefix + builtIn;
            case INamedTypeSymbol named when named.TypeArguments.Length > 0:
                return prefix + named.Name + "Of" + string.Join("And", named.TypeArguments.Select(t => Stem(t, includeAnnotation: true)));
            default:
                return prefix + type.Name;
        }
    }

    /// <summary>The <c>RpcFormatters</c> property of a special type, or <see langword="null"/>.</summary>
    public static string? BuiltInName(SpecialType type) => type switch
    {
        SpecialType.System_Boolean => "Boolean",
        SpecialType.System_Byte => "Byte",
        SpecialType.System_SByte => "SByte",
        SpecialType.System_Int16 => "Int16",
        SpecialType.System_UInt16 => "UInt16",
        SpecialType.System_Int32 => "Int32",
        SpecialType.System_UInt32 => "UInt32",
        SpecialType.System_Int64 => "Int64",
        SpecialType.System_UInt64 => "UInt64",
        SpecialType.System_Single => "Single",
        SpecialType.System_Double => "Double",
        SpecialType.System_Decimal => "Decimal",
        SpecialType.System_Char => "Char",
        SpecialType.System_String => "String",
        SpecialType.System_DateTime => "DateTime",
        _ => null,
    };

    private static string? Keyword(SpecialType type) => type switch
    {
        SpecialType.System_Object => "object",
        SpecialType.System_Boolean => "bool",
        SpecialType.System_Byte => "byte",
        SpecialType.System_SByte => "sbyte",
        SpecialType.System_Int16 => "short",
        SpecialType.System_UInt16 => "ushort",
        SpecialType.System_Int32 => "int",
        SpecialType.System_UInt32 => "uint",
        SpecialType.System_Int64 => "long",
        SpecialType.System_UInt64 => "ulong",
        SpecialType.System_Single => "float",
        SpecialType.System_Double => "double",
        SpecialType.System_Decimal => "decimal",
        SpecialType.System_Char => "char",
        SpecialType.System_String => "string",
        SpecialType.System_Void => "void",
        _ => null,
    };
}
