namespace Rpc.Generator.Model;

/// <summary>Everything the emitter needs to write one contract's file; no Roslyn objects, so it caches by value.</summary>
/// <param name="Namespace">The interface's namespace, or empty for the global namespace.</param>
/// <param name="HintName">The generated file's hint name.</param>
/// <param name="ClassName">The generated class (<c>ICalculator</c> → <c>CalculatorRpc</c>).</param>
/// <param name="IsPublic">Whether the interface is public from outside the assembly.</param>
/// <param name="InterfaceTypeName">The interface, fully qualified with <c>global::</c>.</param>
/// <param name="ContractName">The interface's full name as the runtime reports it (<c>Demo.ICalculator</c>).</param>
/// <param name="Names">The names of the generated nested types.</param>
/// <param name="Methods">The method table, own methods first, then inherited ones.</param>
/// <param name="FormatterFields">The <c>Formatters</c> fields, each after the ones its initializer uses.</param>
/// <param name="ObjectFormatters">The generated formatters of user records, classes and structs.</param>
internal sealed record ContractSpec(
    string Namespace,
    string HintName,
    string ClassName,
    bool IsPublic,
    string InterfaceTypeName,
    string ContractName,
    GeneratedNames Names,
    EquatableArray<MethodSpec> Methods,
    EquatableArray<FormatterFieldSpec> FormatterFields,
    EquatableArray<ObjectFormatterSpec> ObjectFormatters);

/// <summary>The names of the nested types of a generated class, chosen so no user parameter name shadows them.</summary>
internal sealed record GeneratedNames(string MethodTable, string Formatters, string Proxy, string Stub);
