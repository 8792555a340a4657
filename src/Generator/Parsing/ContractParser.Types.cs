using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Rpc.Generator.Diagnostics;
using Rpc.Generator.Model;

namespace Rpc.Generator.Parsing;

/// <summary>Type resolution: every parameter, result and member type to the formatter that serializes it.</summary>
internal sealed partial class ContractParser
{
    // Formatter fields of user types come first: their constructors need nothing, and collection formatters built from
    // them need them to exist. Collection fields are appended after their element's, so initialization order is safe.
    private readonly List<FormatterFieldSpec> _objectFields = [];
    private readonly List<FormatterFieldSpec> _compositeFields = [];
    private readonly List<ObjectFormatterSpec> _objectFormatters = [];
    private readonly Dictionary<string, string> _fieldsByType = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failedTypes = new(StringComparer.Ordinal);
    private bool _hasCompilerErrors;

    /// <summary>Resolves a type; reports RPC0010 and returns <see langword="null"/> when it cannot be serialized.</summary>
    /// <param name="type">The type at its use site (with its nullability).</param>
    /// <param name="usage">Where it appears, for the message (<c>parameter 'x' of method 'I.M'</c>).</param>
    /// <param name="location">The contract syntax to report at.</param>
    private TypeSpec? ResolveType(ITypeSymbol type, string usage, LocationInfo? location)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (type.TypeKind == TypeKind.Error)
        {
            // The compiler already reports the missing type; generate nothing for the contract.
            _hasCompilerErrors = true;
            return null;
        }

        var reason = UnsupportedReason(type);
        if (reason is not null)
        {
            Report(DiagnosticDescriptors.UnsupportedType, location, TypeNames.Display(type), usage, reason);
            return null;
        }

        var typeName = TypeNames.Render(type);
        var nonNullable = TypeNames.RenderNonNullable(type);
        var isNullable = TypeNames.IsNullableReference(type) || type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T;
        var formatter = ResolveFormatter(type, nonNullable, usage, location);
        return formatter is null ? null : new TypeSpec(typeName, nonNullable, type.IsReferenceType, isNullable, formatter);
    }

    private FormatterRef? ResolveFormatter(ITypeSymbol type, string nonNullable, string usage, LocationInfo? location)
    {
        if (BuiltIn(type) is { } builtIn)
        {
            return new FormatterRef(FormatterRefKind.BuiltIn, builtIn);
        }

        if (type.TypeKind == TypeKind.Enum)
        {
            return new FormatterRef(FormatterRefKind.Enum, nonNullable);
        }

        if (KnownSymbols.Is(type, _known.SharedArrayOfT))
        {
            // A handle, not the elements: the formatter is generic over the element type, like the enum formatter.
            return new FormatterRef(FormatterRefKind.SharedArray, TypeNames.RenderNonNullable(((INamedTypeSymbol)type).TypeArguments[0]));
        }

        if (KnownSymbols.Is(type, _known.SharedArraySliceOfT))
        {
            return new FormatterRef(FormatterRefKind.SharedArraySlice, TypeNames.RenderNonNullable(((INamedTypeSymbol)type).TypeArguments[0]));
        }

        if (_fieldsByType.TryGetValue(nonNullable, out var existing))
        {
            return new FormatterRef(FormatterRefKind.Field, existing);
        }

        if (_failedTypes.Contains(nonNullable))
        {
            return null;
        }

        if (type is IArrayTypeSymbol array)
        {
            return Composite(type, nonNullable, FormatterFieldKind.Array, [array.ElementType], usage, location);
        }

        var named = (INamedTypeSymbol)type;
        if (named.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
        {
            return Composite(type, nonNullable, FormatterFieldKind.Nullable, [named.TypeArguments[0]], usage, location);
        }

        if (CollectionKind(named) is { } collection)
        {
            return Composite(type, nonNullable, collection, named.TypeArguments, usage, location);
        }

        return ObjectFormatter(named, nonNullable, usage, location);
    }

    private FormatterRef? Composite(ITypeSymbol type, string nonNullable, FormatterFieldKind kind, IEnumerable<ITypeSymbol> elements, string usage, LocationInfo? location)
    {
        var elementSpecs = new List<TypeSpec>();
        foreach (var element in elements)
        {
            var spec = ResolveType(element, "element of " + TypeNames.Display(type) + " in " + usage, location);
            if (spec is null)
            {
                _failedTypes.Add(nonNullable);
                return null;
            }

            elementSpecs.Add(spec);
        }

        var name = _formatterNames.Allocate(TypeNames.Stem(type, includeAnnotation: false));
        var formatted = type.IsReferenceType ? nonNullable + "?" : nonNullable;
        _fieldsByType.Add(nonNullable, name);
        _compositeFields.Add(new FormatterFieldSpec(name, formatted, nonNullable, kind, elementSpecs.ToEquatableArray(), null));
        return new FormatterRef(FormatterRefKind.Field, name);
    }

    private FormatterRef? ObjectFormatter(INamedTypeSymbol type, string nonNullable, string usage, LocationInfo? location)
    {
        var constructor = ChooseConstructor(type.IsTupleType ? type.TupleUnderlyingType ?? type : type, out var members);
        var memberReason = constructor is null
            ? "it has no public constructor whose parameters all match members by name, and no public parameterless constructor"
            : members.Count == 0 && !type.Locations.Any(l => l.IsInSource)
                ? "it has no public settable or constructor-bound members to serialize"
                : null;
        if (memberReason is not null)
        {
            _failedTypes.Add(nonNullable);
            Report(DiagnosticDescriptors.UnsupportedType, location, TypeNames.Display(type), usage, memberReason);
            return null;
        }

        // Registered before the members are resolved, so a recursive type refers to its own formatter.
        var stem = TypeNames.Stem(type, includeAnnotation: false);
        var fieldName = _formatterNames.Allocate(stem);
        var className = _contractNames.Allocate(stem + "Formatter");
        var formatted = type.IsReferenceType ? nonNullable + "?" : nonNullable;
        _fieldsByType.Add(nonNullable, fieldName);
        var field = new FormatterFieldSpec(fieldName, formatted, nonNullable, FormatterFieldKind.Object, EquatableArray<TypeSpec>.Empty, className);
        _objectFields.Add(field);

        var locals = new NameAllocator(["writer", "value", "reader", "count", "i", _formattersClass, className]);
        var memberSpecs = new List<MemberSpec>();
        var failed = false;
        foreach (var (member, memberType, parameter) in members)
        {
            var spec = ResolveType(memberType, "member '" + member.Name + "' of " + TypeNames.Display(type) + " in " + usage, location);
            if (spec is null)
            {
                failed = true;
                continue;
            }

            var local = NameAllocator.EscapeIdentifier(locals.Allocate(NameAllocator.ToCamelCase(member.Name)));
            var requiresNotNull = spec.RequiresNotNull || (parameter is not null && parameter.Type.IsReferenceType && parameter.NullableAnnotation == NullableAnnotation.NotAnnotated);
            var isRequired = member is IPropertySymbol { IsRequired: true } or IFieldSymbol { IsRequired: true };
            memberSpecs.Add(new MemberSpec(NameAllocator.EscapeIdentifier(member.Name), member.Name, local, spec, parameter is not null, requiresNotNull, isRequired));
        }

        if (failed)
        {
            _objectFields.Remove(field);
            _fieldsByType.Remove(nonNullable);
            _failedTypes.Add(nonNullable);
            return null;
        }

        var constructorArguments = constructor!.Parameters
            .Select(p => members.FindIndex(m => SymbolEqualityComparer.Default.Equals(m.Parameter, p)))
            .ToEquatableArray();
        _objectFormatters.Add(new ObjectFormatterSpec(
            className,
            nonNullable,
            TypeNames.RenderConstructible(type),
            type.IsValueType,
            memberSpecs.ToEquatableArray(),
            constructorArguments,
            new ReaderNames("reader", "count", "i")));
        return new FormatterRef(FormatterRefKind.Field, fieldName);
    }

    /// <summary>
    /// Picks the public constructor with the most parameters that all bind (by name, case-insensitively, and type) to a
    /// public member, or the parameterless one; and lists the members to serialize: public instance properties and
    /// fields that are settable or bound to a constructor parameter, base-class members first.
    /// </summary>
    private static IMethodSymbol? ChooseConstructor(INamedTypeSymbol type, out List<(ISymbol Member, ITypeSymbol Type, IParameterSymbol? Parameter)> members)
    {
        var candidates = new List<(ISymbol Member, ITypeSymbol Type, bool Settable)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var chain = new List<INamedTypeSymbol>();
        for (var current = type; current is not null && current.SpecialType is not (SpecialType.System_Object or SpecialType.System_ValueType); current = current.BaseType)
        {
            chain.Insert(0, current);
        }

        foreach (var declaring in chain)
        {
            foreach (var member in declaring.GetMembers())
            {
                if (member.IsStatic || member.DeclaredAccessibility != Accessibility.Public || member.IsImplicitlyDeclared && member is IFieldSymbol)
                {
                    continue;
                }

                switch (member)
                {
                    case IPropertySymbol { IsIndexer: false, GetMethod.DeclaredAccessibility: Accessibility.Public } property when names.Add(property.Name):
                        candidates.Add((property, property.Type, property.SetMethod is { DeclaredAccessibility: Accessibility.Public }));
                        break;
                    case IFieldSymbol { IsConst: false } field when names.Add(field.Name):
                        candidates.Add((field, field.Type, !field.IsReadOnly));
                        break;
                }
            }
        }

        var constructors = type.InstanceConstructors
            .Where(c => c.DeclaredAccessibility == Accessibility.Public)
            .OrderByDescending(c => c.Parameters.Length);
        foreach (var constructor in constructors)
        {
            var bound = new IParameterSymbol?[candidates.Count];
            var ok = true;
            foreach (var parameter in constructor.Parameters)
            {
                var index = candidates.FindIndex(c =>
                    string.Equals(c.Member.Name, parameter.Name, StringComparison.OrdinalIgnoreCase)
                    && SymbolEqualityComparer.Default.Equals(c.Type, parameter.Type));
                if (index < 0 || bound[index] is not null || parameter.RefKind != RefKind.None)
                {
                    ok = false;
                    break;
                }

                bound[index] = parameter;
            }

            if (!ok)
            {
                continue;
            }

            members = [];
            for (var i = 0; i < candidates.Count; i++)
            {
                if (candidates[i].Settable || bound[i] is not null)
                {
                    members.Add((candidates[i].Member, candidates[i].Type, bound[i]));
                }
            }

            return constructor;
        }

        members = [];
        return null;
    }

    private string? UnsupportedReason(ITypeSymbol type)
    {
        switch (type)
        {
            case { TypeKind: TypeKind.Dynamic }:
                return "dynamic has no static shape; use a concrete type";
            case { SpecialType: SpecialType.System_Object }:
                return "object says nothing about what is on the wire; use a concrete type";
            case ITypeParameterSymbol:
                return "open generic type parameters are not supported";
            case { TypeKind: TypeKind.Pointer or TypeKind.FunctionPointer }:
                return "pointers cannot be serialized";
            case { IsRefLikeType: true }:
                return "ref structs cannot be stored or serialized";
            case IArrayTypeSymbol { Rank: > 1 }:
                return "multi-dimensional arrays are not supported; use a jagged array";
            case IArrayTypeSymbol:
                return null;
            case { TypeKind: TypeKind.Delegate }:
                return "delegates cannot be serialized";
            case { SpecialType: SpecialType.System_IntPtr or SpecialType.System_UIntPtr }:
                return "native-sized integers differ between processes; use int or long";
            case INamedTypeSymbol named when IsTaskLike(named):
                return "tasks and streams are not values; only a method's return type may be one";
            case INamedTypeSymbol named when BuiltIn(named) is not null || named.TypeKind == TypeKind.Enum:
                return null;
            case INamedTypeSymbol named when named.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T:
                return null;
            case INamedTypeSymbol named when KnownSymbols.Is(named, _known.ReadOnlyMemoryOfT) || KnownSymbols.Is(named, _known.MemoryOfT):
                return "only Memory<byte> and ReadOnlyMemory<byte> are supported";
            case INamedTypeSymbol named when CollectionKind(named) is not null:
                return null;
            case { TypeKind: TypeKind.Interface }:
                return "interfaces other than the supported collection interfaces have no constructor to read into; use a concrete type";
            case { IsAbstract: true }:
                return "abstract classes cannot be constructed; use a concrete type";
            case INamedTypeSymbol { IsUnboundGenericType: true }:
                return "open generic types are not supported";
            case INamedTypeSymbol named when !_compilation.IsSymbolAccessibleWithin(named, _compilation.Assembly):
                return "it is not accessible from the generated code";
            default:
                return null;
        }
    }

    private bool IsTaskLike(INamedTypeSymbol type) =>
        KnownSymbols.Is(type, _known.Task) || KnownSymbols.Is(type, _known.TaskOfT)
        || KnownSymbols.Is(type, _known.ValueTask) || KnownSymbols.Is(type, _known.ValueTaskOfT)
        || KnownSymbols.Is(type, _known.IAsyncEnumerableOfT) || KnownSymbols.Is(type, _known.CancellationToken);

    private string? BuiltIn(ITypeSymbol type)
    {
        if (type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Byte })
        {
            return "ByteArray";
        }

        if (type is not INamedTypeSymbol named)
        {
            return null;
        }

        if (TypeNames.BuiltInName(named.SpecialType) is { } name)
        {
            return name;
        }

        if (KnownSymbols.Is(named, _known.DateTimeOffset))
        {
            return "DateTimeOffset";
        }

        if (KnownSymbols.Is(named, _known.TimeSpan))
        {
            return "TimeSpan";
        }

        if (KnownSymbols.Is(named, _known.Guid))
        {
            return "Guid";
        }

        if (KnownSymbols.Is(named, _known.RpcBuffer))
        {
            return "RpcBuffer";
        }

        var isByte = named.TypeArguments.Length == 1 && named.TypeArguments[0].SpecialType == SpecialType.System_Byte;
        if (isByte && KnownSymbols.Is(named, _known.ReadOnlyMemoryOfT))
        {
            return "ReadOnlyMemoryOfByte";
        }

        if (isByte && KnownSymbols.Is(named, _known.MemoryOfT))
        {
            return "MemoryOfByte";
        }

        return null;
    }

    private FormatterFieldKind? CollectionKind(INamedTypeSymbol type)
    {
        if (KnownSymbols.Is(type, _known.ListOfT) || KnownSymbols.Is(type, _known.IListOfT) || KnownSymbols.Is(type, _known.IReadOnlyListOfT)
            || KnownSymbols.Is(type, _known.ICollectionOfT) || KnownSymbols.Is(type, _known.IReadOnlyCollectionOfT) || KnownSymbols.Is(type, _known.IEnumerableOfT))
        {
            return FormatterFieldKind.List;
        }

        if (KnownSymbols.Is(type, _known.HashSetOfT) || KnownSymbols.Is(type, _known.ISetOfT) || KnownSymbols.Is(type, _known.IReadOnlySetOfT))
        {
            return FormatterFieldKind.HashSet;
        }

        if (KnownSymbols.Is(type, _known.DictionaryOfTKeyTValue) || KnownSymbols.Is(type, _known.IDictionaryOfTKeyTValue) || KnownSymbols.Is(type, _known.IReadOnlyDictionaryOfTKeyTValue))
        {
            return FormatterFieldKind.Dictionary;
        }

        return null;
    }
}
