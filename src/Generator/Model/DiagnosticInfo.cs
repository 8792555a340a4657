using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Rpc.Generator.Model;

/// <summary>A source location as plain values, turned into a <see cref="Location"/> only when a diagnostic is reported.</summary>
/// <param name="FilePath">The syntax tree's path.</param>
/// <param name="Span">The span in the tree.</param>
/// <param name="LineSpan">The same span as lines and columns.</param>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is { IsInSource: true, SourceTree: { } tree }
            ? new LocationInfo(tree.FilePath, location.SourceSpan, location.GetLineSpan().Span)
            : null;
}

/// <summary>A diagnostic to report, without Roslyn objects.</summary>
/// <param name="Id">The descriptor id (<c>RPC0001</c>…).</param>
/// <param name="Location">Where, or <see langword="null"/> for none.</param>
/// <param name="MessageArgs">The message's format arguments.</param>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> MessageArgs);

/// <summary>The result of parsing one <c>[RpcContract]</c> interface: a model to emit, or the reasons there is none.</summary>
/// <param name="Contract">The model, or <see langword="null"/> when any error was found (nothing is generated then).</param>
/// <param name="Diagnostics">The diagnostics.</param>
internal sealed record ContractParseResult(ContractSpec? Contract, EquatableArray<DiagnosticInfo> Diagnostics);
