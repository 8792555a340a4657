using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Rpc.Generator.Diagnostics;
using Rpc.Generator.Emitting;
using Rpc.Generator.Model;
using Rpc.Generator.Parsing;

namespace Rpc.Generator;

/// <summary>
/// The Rpc source generator. For each <c>[RpcContract]</c> interface it writes one file holding the contract's
/// method table, argument structs, formatters, proxy and stub (see docs/GENERATED-CODE.md).
/// </summary>
/// <remarks>
/// The pipeline is deliberately short: <see cref="ContractParser"/> turns symbols into an equatable
/// <see cref="ContractParseResult"/> (so an edit elsewhere leaves it unchanged and the output cached), and
/// <see cref="ContractEmitter"/> turns the model into source. A contract with any error is reported and not emitted.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed class RpcGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // 1. Find [RpcContract] interfaces and reduce each to a model + diagnostics (no Roslyn objects inside).
        IncrementalValuesProvider<ContractParseResult> contracts = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownTypeNames.RpcContractAttribute,
                predicate: static (node, _) => node is InterfaceDeclarationSyntax,
                transform: static (context, cancellationToken) => Parse(context, cancellationToken))
            .WithTrackingName(TrackingNames.Contracts);

        // 2. One file per valid contract; diagnostics for every invalid one.
        context.RegisterSourceOutput(contracts, static (context, result) => Emit(context, result));
    }

    private static ContractParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        context.TargetSymbol is INamedTypeSymbol contract
            ? ContractParser.Parse(contract, context.SemanticModel.Compilation, cancellationToken)
            : new ContractParseResult(null, EquatableArray<DiagnosticInfo>.Empty);

    private static void Emit(SourceProductionContext context, ContractParseResult result)
    {
        foreach (var diagnostic in result.Diagnostics)
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.ById[diagnostic.Id],
                diagnostic.Location?.ToLocation(),
                ToArgs(diagnostic.MessageArgs)));
        }

        if (result.Contract is { } contract)
        {
            context.AddSource(contract.HintName, ContractEmitter.Emit(contract, GeneratorVersion.Value));
        }
    }

    private static object?[] ToArgs(EquatableArray<string> args)
    {
        var array = ImmutableArray.CreateBuilder<object?>(args.Count);
        foreach (var arg in args)
        {
            array.Add(arg);
        }

        return array.ToArray();
    }
}
