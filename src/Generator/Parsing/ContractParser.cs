using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Rpc.Generator.Diagnostics;
using Rpc.Generator.Model;

namespace Rpc.Generator.Parsing;

/// <summary>
/// Turns one <c>[RpcContract]</c> interface symbol into a <see cref="ContractSpec"/> plus diagnostics. All symbol
/// work happens here; the result holds only strings, numbers and locations as values.
/// </summary>
internal sealed partial class ContractParser
{
    /// <summary>A contract method takes at most this many parameters besides the token (Func/Action arity).</summary>
    public const int MaxParameters = 15;

    // Members of RpcContract<T> and object that a nested generated type must not hide.
    private static readonly string[] s_contractClassMembers =
    [
        "All", "Instance", "Name", "Methods", "CreateProxy", "CreateStub", "Register",
        "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "ReferenceEquals", "Finalize",
    ];

    private static readonly string[] s_objectMembers =
        ["Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "ReferenceEquals", "Finalize"];

    private readonly Compilation _compilation;
    private readonly KnownSymbols _known;
    private readonly LocationInfo? _contractLocation;
    private readonly List<DiagnosticInfo> _diagnostics = [];
    private readonly CancellationToken _cancellationToken;
    private NameAllocator _contractNames = new();
    private NameAllocator _formatterNames = new();
    private string _formattersClass = "Formatters";

    private ContractParser(Compilation compilation, INamedTypeSymbol contract, CancellationToken cancellationToken)
    {
        _compilation = compilation;
        _known = new KnownSymbols(compilation);
        _contractLocation = LocationInfo.From(contract.Locations.FirstOrDefault());
        _cancellationToken = cancellationToken;
    }

    /// <summary>Parses <paramref name="contract"/>.</summary>
    /// <param name="contract">The interface carrying <c>[RpcContract]</c>.</param>
    /// <param name="compilation">Its compilation.</param>
    /// <param name="cancellationToken">Cancels the parse.</param>
    /// <returns>The model (or none when there are errors) and the diagnostics.</returns>
    public static ContractParseResult Parse(INamedTypeSymbol contract, Compilation compilation, CancellationToken cancellationToken)
    {
        var parser = new ContractParser(compilation, contract, cancellationToken);
        var spec = parser.ParseContract(contract);
        var diagnostics = parser._diagnostics.ToEquatableArray();
        return new ContractParseResult(diagnostics.Count == 0 && !parser._hasCompilerErrors ? spec : null, diagnostics);
    }

    private ContractSpec? ParseContract(INamedTypeSymbol contract)
    {
        CheckContractShape(contract);
        var className = ClassName(contract);
        var ns = contract.ContainingNamespace is { IsGlobalNamespace: false } containingNamespace
            ? containingNamespace.ToDisplayString()
            : string.Empty;
        if (contract.ContainingNamespace.GetTypeMembers(className).Length > 0)
        {
            Report(DiagnosticDescriptors.GeneratedNameConflict, _contractLocation, className, TypeNames.FullName(contract), ns.Length == 0 ? "<global>" : ns);
        }

        var methods = CollectMethods(contract);

        // User names first: a parameter named like a generated type would otherwise shadow it in the proxy.
        _contractNames = new NameAllocator(s_contractClassMembers);
        _contractNames.Reserve(className);
        foreach (var method in methods)
        {
            foreach (var parameter in method.Parameters)
            {
                _contractNames.Reserve(parameter.Name);
            }
        }

        var names = new GeneratedNames(
            MethodTable: _contractNames.Allocate("MethodTable"),
            Formatters: _contractNames.Allocate("Formatters"),
            Proxy: _contractNames.Allocate("Proxy"),
            Stub: _contractNames.Allocate("Stub"));
        _formattersClass = names.Formatters;
        _formatterNames = new NameAllocator(s_objectMembers);
        _formatterNames.Reserve(names.Formatters);

        var contractTimeout = ContractTimeout(contract);
        var memberNames = methods.Select(m => _contractNames.Allocate(MemberStem(m.Name), string.Empty, "Id", "Arguments")).ToList();
        var parsed = new List<(IMethodSymbol Method, MethodSpec Spec)>();
        for (var i = 0; i < methods.Count; i++)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            if (ParseMethod(contract, methods[i], memberNames[i], contractTimeout) is { } spec)
            {
                parsed.Add((methods[i], spec));
            }
        }

        CheckWireNames(parsed);

        return new ContractSpec(
            Namespace: ns,
            HintName: HintName(contract),
            ClassName: className,
            IsPublic: IsEffectivelyPublic(contract),
            InterfaceTypeName: TypeNames.RenderNonNullable(contract),
            ContractName: TypeNames.FullName(contract),
            Names: names,
            Methods: parsed.Select(p => p.Spec).ToEquatableArray(),
            FormatterFields: _objectFields.Concat(_compositeFields).ToEquatableArray(),
            ObjectFormatters: _objectFormatters.ToEquatableArray());
    }

    private void CheckContractShape(INamedTypeSymbol contract)
    {
        if (contract.TypeParameters.Length > 0)
        {
            Report(DiagnosticDescriptors.GenericContract, _contractLocation, TypeNames.FullName(contract));
        }

        for (INamedTypeSymbol? type = contract; type is not null; type = type.ContainingType)
        {
            if (type.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
            {
                var what = ReferenceEquals(type, contract) ? "is " : "is nested in '" + type.Name + "', which is ";
                Report(DiagnosticDescriptors.InaccessibleContract, _contractLocation, TypeNames.FullName(contract), what + Describe(type.DeclaredAccessibility));
                return;
            }

            if (!ReferenceEquals(type, contract) && type.IsGenericType)
            {
                Report(DiagnosticDescriptors.InaccessibleContract, _contractLocation, TypeNames.FullName(contract), "is nested in the generic type '" + TypeNames.Display(type) + "'");
                return;
            }
        }
    }

    /// <summary>The contract's own methods in declaration order, then those of every base interface.</summary>
    private List<IMethodSymbol> CollectMethods(INamedTypeSymbol contract)
    {
        var methods = new List<IMethodSymbol>();
        var seen = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var type in new[] { contract }.Concat(contract.AllInterfaces))
        {
            foreach (var member in type.GetMembers())
            {
                if (seen.Add(member) && IsContractMethod(member) is { } method)
                {
                    methods.Add(method);
                }
            }
        }

        return methods;
    }

    private IMethodSymbol? IsContractMethod(ISymbol member)
    {
        var location = LocationOf(member);
        switch (member)
        {
            case IMethodSymbol { MethodKind: MethodKind.Ordinary or MethodKind.ExplicitInterfaceImplementation } method:
                if (method.IsStatic)
                {
                    if (method.IsAbstract || method.IsVirtual)
                    {
                        Report(DiagnosticDescriptors.NonAbstractMember, location, MethodDisplay(method), "is static abstract, which keeps the interface from being a type argument");
                    }

                    return null;
                }

                if (!method.IsAbstract)
                {
                    Report(DiagnosticDescriptors.NonAbstractMember, location, MethodDisplay(method), "has a default implementation");
                    return null;
                }

                return method.MethodKind == MethodKind.Ordinary ? method : null;

            case IPropertySymbol property when !property.IsStatic || property.IsAbstract || property.IsVirtual:
                Report(DiagnosticDescriptors.UnsupportedMember, location, member.ContainingType.Name + "." + member.Name, property.IsIndexer ? "an indexer" : "a property");
                return null;

            case IEventSymbol @event when !@event.IsStatic || @event.IsAbstract || @event.IsVirtual:
                Report(DiagnosticDescriptors.UnsupportedMember, location, member.ContainingType.Name + "." + member.Name, "an event");
                return null;

            default:
                // Accessors, nested types, constants and static helpers are not part of the wire contract.
                return null;
        }
    }

    private MethodSpec? ParseMethod(INamedTypeSymbol contract, IMethodSymbol method, string memberName, int contractTimeout)
    {
        var display = MethodDisplay(method);
        var methodLocation = LocationOf(method);
        var errors = _diagnostics.Count;

        if (method.IsGenericMethod)
        {
            Report(DiagnosticDescriptors.GenericMethod, methodLocation, display);
        }

        var wireName = WireName(method, display, methodLocation);
        var (kind, resultType) = ClassifyReturn(method);
        TypeSpec? result = null;
        if (kind is null)
        {
            Report(DiagnosticDescriptors.UnsupportedReturnType, ReturnTypeLocation(method), display, TypeNames.Display(method.ReturnType));
        }
        else if (resultType is not null)
        {
            result = ResolveType(resultType, "the result of method '" + display + "'", ReturnTypeLocation(method));
        }

        var timeout = MethodTimeout(method, display, kind) ?? (kind == ReturnKind.Void ? 0 : contractTimeout);
        var parameters = new List<ParameterSpec>();
        string? cancellationTokenName = null;
        var fieldNames = new NameAllocator(["Write", "Read", "ToPositionalArray", memberName + "Arguments", .. s_objectMembers]);
        var tokenCount = method.Parameters.Count(p => KnownSymbols.Is(p.Type, _known.CancellationToken));
        foreach (var parameter in method.Parameters)
        {
            if (ParseParameter(method, display, parameter, tokenCount, fieldNames) is { } spec)
            {
                parameters.Add(spec);
            }
            else if (KnownSymbols.Is(parameter.Type, _known.CancellationToken))
            {
                cancellationTokenName = NameAllocator.EscapeIdentifier(parameter.Name);
            }
        }

        var serializedCount = method.Parameters.Count(p => !KnownSymbols.Is(p.Type, _known.CancellationToken));
        if (serializedCount > MaxParameters)
        {
            Report(DiagnosticDescriptors.TooManyParameters, methodLocation, display, serializedCount.ToString(CultureInfo.InvariantCulture));
        }

        if (_diagnostics.Count != errors || kind is null)
        {
            return null;
        }

        var readNames = ReaderNamesAvoiding(method.Parameters.Select(p => p.Name).Concat(parameters.Select(p => p.FieldName)));
        return new MethodSpec(
            MethodName: NameAllocator.EscapeIdentifier(method.Name),
            DeclaringInterfaceTypeName: TypeNames.RenderNonNullable(method.ContainingType),
            IsInherited: !SymbolEqualityComparer.Default.Equals(method.ContainingType, contract),
            MemberName: memberName,
            WireName: wireName,
            Id: Fnv1a32(wireName),
            ReturnKind: kind.Value,
            ReturnTypeName: method.ReturnsVoid ? "void" : TypeNames.Render(method.ReturnType),
            Result: result,
            Parameters: parameters.ToEquatableArray(),
            CancellationTokenName: cancellationTokenName,
            ReadNames: readNames,
            IsIdempotent: method.GetAttributes().Any(a => KnownSymbols.Is(a.AttributeClass, _known.RpcIdempotentAttribute)),
            TimeoutMilliseconds: timeout);
    }

    /// <summary>The contract interface's <c>[RpcTimeout]</c>: the default of its methods with a reply, or 0.</summary>
    private int ContractTimeout(INamedTypeSymbol contract)
    {
        var attribute = contract.GetAttributes().FirstOrDefault(a => KnownSymbols.Is(a.AttributeClass, _known.RpcTimeoutAttribute));
        return attribute is null ? 0 : CheckedTimeout(attribute, "contract " + TypeNames.FullName(contract), _contractLocation);
    }

    /// <returns>The method's own <c>[RpcTimeout]</c>, or <see langword="null"/> when it has none.</returns>
    private int? MethodTimeout(IMethodSymbol method, string display, ReturnKind? kind)
    {
        var attribute = method.GetAttributes().FirstOrDefault(a => KnownSymbols.Is(a.AttributeClass, _known.RpcTimeoutAttribute));
        if (attribute is null)
        {
            return null;
        }

        if (kind == ReturnKind.Void)
        {
            Report(DiagnosticDescriptors.InvalidTimeout, AttributeLocation(attribute) ?? LocationOf(method), display, "is on a notification (a void method), which has no reply to wait for");
            return 0;
        }

        return CheckedTimeout(attribute, display, LocationOf(method));
    }

    private int CheckedTimeout(AttributeData attribute, string display, LocationInfo? fallback)
    {
        var milliseconds = attribute.ConstructorArguments.FirstOrDefault().Value is int value ? value : 0;
        if (milliseconds <= 0)
        {
            Report(DiagnosticDescriptors.InvalidTimeout, AttributeLocation(attribute) ?? fallback, display, "gives " + milliseconds.ToString(CultureInfo.InvariantCulture) + " ms; a timeout is a positive number of milliseconds");
            return 0;
        }

        return milliseconds;
    }

    private LocationInfo? AttributeLocation(AttributeData attribute) =>
        LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(_cancellationToken).GetLocation());

    /// <returns>The parameter's spec, or <see langword="null"/> for the cancellation token or an invalid parameter.</returns>
    private ParameterSpec? ParseParameter(IMethodSymbol method, string display, IParameterSymbol parameter, int tokenCount, NameAllocator fieldNames)
    {
        var location = LocationOf(parameter);
        if (parameter.RefKind != RefKind.None || parameter.IsParams)
        {
            var modifier = parameter.IsParams ? "params" : parameter.RefKind switch
            {
                RefKind.Ref => "ref",
                RefKind.Out => "out",
                RefKind.In => "in",
                _ => "ref readonly",
            };
            Report(DiagnosticDescriptors.UnsupportedParameterModifier, location, parameter.Name, display, "is declared '" + modifier + "'");
            return null;
        }

        if (parameter.Type.IsRefLikeType || parameter.Type.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer)
        {
            Report(DiagnosticDescriptors.UnsupportedParameterModifier, location, parameter.Name, display, "has the by-reference type '" + TypeNames.Display(parameter.Type) + "'");
            return null;
        }

        if (KnownSymbols.Is(parameter.Type, _known.CancellationToken))
        {
            if (tokenCount > 1)
            {
                Report(DiagnosticDescriptors.CancellationTokenPosition, location, parameter.Name, display, "is one of " + tokenCount.ToString(CultureInfo.InvariantCulture));
            }
            else if (parameter.Ordinal != method.Parameters.Length - 1)
            {
                Report(DiagnosticDescriptors.CancellationTokenPosition, location, parameter.Name, display, "is not the last parameter");
            }

            return null;
        }

        if (KnownSymbols.Is(parameter.Type, _known.IAsyncEnumerableOfT))
        {
            Report(DiagnosticDescriptors.StreamParameter, location, parameter.Name, display);
            return null;
        }

        var type = ResolveType(parameter.Type, "parameter '" + parameter.Name + "' of method '" + display + "'", ParameterTypeLocation(parameter));
        if (type is null)
        {
            return null;
        }

        var identifier = NameAllocator.EscapeIdentifier(parameter.Name);
        var fieldName = fieldNames.IsTaken(parameter.Name) ? fieldNames.Allocate(parameter.Name + "_") : identifier;
        fieldNames.Reserve(fieldName);
        return new ParameterSpec(parameter.Name, identifier, fieldName, type);
    }

    private (ReturnKind? Kind, ITypeSymbol? Result) ClassifyReturn(IMethodSymbol method)
    {
        var type = method.ReturnType;
        if (method.ReturnsByRef || method.ReturnsByRefReadonly)
        {
            return (null, null);
        }

        if (method.ReturnsVoid)
        {
            return (ReturnKind.Void, null);
        }

        if (KnownSymbols.Is(type, _known.Task))
        {
            return (ReturnKind.Task, null);
        }

        if (KnownSymbols.Is(type, _known.ValueTask))
        {
            return (ReturnKind.ValueTask, null);
        }

        if (type is INamedTypeSymbol { TypeArguments.Length: 1 } generic)
        {
            if (KnownSymbols.Is(type, _known.TaskOfT))
            {
                return (ReturnKind.TaskOfT, generic.TypeArguments[0]);
            }

            if (KnownSymbols.Is(type, _known.ValueTaskOfT))
            {
                return (ReturnKind.ValueTaskOfT, generic.TypeArguments[0]);
            }

            if (KnownSymbols.Is(type, _known.IAsyncEnumerableOfT))
            {
                return (ReturnKind.Stream, generic.TypeArguments[0]);
            }
        }

        return (null, null);
    }

    private string WireName(IMethodSymbol method, string display, LocationInfo? location)
    {
        var attribute = method.GetAttributes().FirstOrDefault(a => KnownSymbols.Is(a.AttributeClass, _known.RpcMethodAttribute));
        string wireName;
        if (attribute is null)
        {
            wireName = MemberStem(method.Name);
        }
        else
        {
            wireName = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
            if (string.IsNullOrWhiteSpace(wireName))
            {
                Report(DiagnosticDescriptors.EmptyWireName, LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(_cancellationToken).GetLocation()) ?? location, display);
                return wireName;
            }
        }

        if (wireName.StartsWith("rpc.", StringComparison.Ordinal))
        {
            Report(DiagnosticDescriptors.ReservedWireName, location, display, wireName);
        }

        return wireName;
    }

    private void CheckWireNames(List<(IMethodSymbol Method, MethodSpec Spec)> parsed)
    {
        // Compared over the parsed methods only: a method with its own errors has no wire name to collide with.
        var byWireName = new Dictionary<string, int>(StringComparer.Ordinal);
        var byId = new Dictionary<uint, int>();
        for (var i = 0; i < parsed.Count; i++)
        {
            var (method, spec) = parsed[i];
            if (byWireName.TryGetValue(spec.WireName, out var first))
            {
                Report(DiagnosticDescriptors.DuplicateWireName, LocationOf(method), MethodDisplay(parsed[first].Method), MethodDisplay(method), spec.WireName);
                continue;
            }

            byWireName.Add(spec.WireName, i);
            if (byId.TryGetValue(spec.Id, out var clash))
            {
                Report(
                    DiagnosticDescriptors.MethodIdCollision,
                    LocationOf(method),
                    parsed[clash].Spec.WireName,
                    MethodDisplay(parsed[clash].Method),
                    spec.WireName,
                    MethodDisplay(method),
                    "0x" + spec.Id.ToString("X8", CultureInfo.InvariantCulture));
                continue;
            }

            byId.Add(spec.Id, i);
        }
    }

    private static string MemberStem(string methodName) =>
        methodName.Length > "Async".Length && methodName.EndsWith("Async", StringComparison.Ordinal)
            ? methodName.Substring(0, methodName.Length - "Async".Length)
            : methodName;

    private static string ClassName(INamedTypeSymbol contract)
    {
        var name = contract.Name;
        var stem = name.Length > 1 && name[0] == 'I' && char.IsUpper(name[1]) ? name.Substring(1) : name;
        var containing = new List<string>();
        for (var type = contract.ContainingType; type is not null; type = type.ContainingType)
        {
            containing.Insert(0, type.Name);
        }

        containing.Add(stem + "Rpc");
        return string.Join("_", containing);
    }

    private static string HintName(INamedTypeSymbol contract)
    {
        var builder = new StringBuilder();
        if (contract.ContainingNamespace is { IsGlobalNamespace: false } ns)
        {
            builder.Append(ns.ToDisplayString()).Append('.');
        }

        var containing = new List<string>();
        for (var type = contract.ContainingType; type is not null; type = type.ContainingType)
        {
            containing.Insert(0, type.Name);
        }

        foreach (var name in containing)
        {
            builder.Append(name).Append('.');
        }

        return builder.Append(contract.Name).Append(".Rpc.g.cs").ToString();
    }

    private static bool IsEffectivelyPublic(INamedTypeSymbol contract)
    {
        for (INamedTypeSymbol? type = contract; type is not null; type = type.ContainingType)
        {
            if (type.DeclaredAccessibility != Accessibility.Public)
            {
                return false;
            }
        }

        return true;
    }

    private static ReaderNames ReaderNamesAvoiding(IEnumerable<string> userNames)
    {
        var names = new NameAllocator(userNames);
        return new ReaderNames(names.Allocate("reader"), names.Allocate("count"), names.Allocate("i"));
    }

    /// <summary>FNV-1a 32 of the UTF-8 bytes, the same as <c>Rpc.Runtime.RpcMethod.ComputeId</c>.</summary>
    internal static uint Fnv1a32(string wireName)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(wireName))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return hash;
    }

    private static string MethodDisplay(IMethodSymbol method) => method.ContainingType.Name + "." + method.Name;

    private static string Describe(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Private => "private",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => accessibility.ToString().ToLowerInvariant(),
    };

    private LocationInfo? LocationOf(ISymbol symbol) =>
        LocationInfo.From(symbol.Locations.FirstOrDefault(l => l.IsInSource)) ?? _contractLocation;

    private LocationInfo? ParameterTypeLocation(IParameterSymbol parameter) =>
        parameter.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_cancellationToken) is ParameterSyntax { Type: { } type }
            ? LocationInfo.From(type.GetLocation())
            : LocationOf(parameter);

    private LocationInfo? ReturnTypeLocation(IMethodSymbol method) =>
        method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_cancellationToken) is MethodDeclarationSyntax syntax
            ? LocationInfo.From(syntax.ReturnType.GetLocation())
            : LocationOf(method);

    private void Report(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        _diagnostics.Add(new DiagnosticInfo(descriptor.Id, location, args.ToEquatableArray()));
}
