using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Rpc.Generator.Tests.Infrastructure;

/// <summary>Builds test compilations against .NET 10 reference assemblies plus Rpc and MessagePack, and runs the generator.</summary>
internal static class TestCompilation
{
    /// <summary>The reference set, built once: .NET 10 reference assemblies, Rpc.Contracts, Rpc.Runtime, Rpc.Transports and MessagePack.</summary>
    public static ImmutableArray<MetadataReference> References { get; } =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(RpcContractAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Rpc.Serialization.RpcFormatter<>).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Rpc.SharedState.SharedArray<>).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(MessagePack.MessagePackWriter).Assembly.Location),
    ];

    public static CSharpParseOptions ParseOptions { get; } =
        new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly CSharpCompilationOptions s_options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable,
            warningLevel: 9999,
            deterministic: true)
        .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
        {
            // Assembly-unification notices that the SDK also silences by default.
            ["CS1701"] = ReportDiagnostic.Suppress,
            ["CS1702"] = ReportDiagnostic.Suppress,
            // Test sources are not documented.
            ["CS1591"] = ReportDiagnostic.Suppress,
        });

    /// <summary>Creates a compilation of <paramref name="sources"/> (first one named Contract.cs).</summary>
    public static CSharpCompilation Create(params string[] sources) =>
        CSharpCompilation.Create(
            "TestAssembly",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: i == 0 ? "Contract.cs" : $"Source{i}.cs")),
            References,
            s_options);

    /// <summary>Creates a driver for <see cref="RpcGenerator"/> that tracks incremental steps.</summary>
    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new RpcGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator over <paramref name="sources"/>.</summary>
    public static GeneratorRun Run(params string[] sources)
    {
        var compilation = Create(sources);
        var input = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (input.Count > 0)
        {
            throw new InvalidOperationException("The test source does not compile:\n" + string.Join("\n", input));
        }

        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        return new GeneratorRun(driver, driver.GetRunResult(), output, generatorDiagnostics);
    }
}

/// <summary>The outcome of one generator run.</summary>
internal sealed record GeneratorRun(
    GeneratorDriver Driver,
    GeneratorDriverRunResult Result,
    Compilation OutputCompilation,
    ImmutableArray<Diagnostic> Diagnostics)
{
    /// <summary>Gets the generated files by hint name.</summary>
    public IReadOnlyDictionary<string, string> GeneratedSources =>
        Result.Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);

    /// <summary>Gets every warning and error of the compilation including the generated code, plus the generator's own.</summary>
    public IReadOnlyList<Diagnostic> AllProblems() =>
        OutputCompilation.GetDiagnostics()
            .Concat(Diagnostics)
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .ToList();
}
