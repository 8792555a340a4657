using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Rpc.Generator.Diagnostics;

/// <summary>Every diagnostic the generator reports. A contract with any of them gets no generated file.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Rpc";

    public static readonly DiagnosticDescriptor UnsupportedReturnType = Error(
        "RPC0001",
        "Unsupported return type",
        "Method '{0}' returns '{1}'; a contract method returns Task, Task<T>, ValueTask, ValueTask<T>, IAsyncEnumerable<T> or void");

    public static readonly DiagnosticDescriptor UnsupportedParameterModifier = Error(
        "RPC0002",
        "Unsupported parameter modifier or by-reference type",
        "Parameter '{0}' of method '{1}' {2}; contract parameters are serializable values passed by value");

    public static readonly DiagnosticDescriptor GenericMethod = Error(
        "RPC0003",
        "Generic contract method",
        "Method '{0}' has type parameters; a contract method cannot be generic because the wire carries no type arguments");

    public static readonly DiagnosticDescriptor UnsupportedMember = Error(
        "RPC0004",
        "Contract member is not a method",
        "'{0}' is {1}; a contract declares only methods");

    public static readonly DiagnosticDescriptor GenericContract = Error(
        "RPC0005",
        "Generic contract interface",
        "Contract interface '{0}' is generic; a contract interface cannot have type parameters");

    public static readonly DiagnosticDescriptor CancellationTokenPosition = Error(
        "RPC0006",
        "Misplaced CancellationToken",
        "CancellationToken parameter '{0}' of method '{1}' {2}; a method takes at most one CancellationToken, as its last parameter");

    public static readonly DiagnosticDescriptor DuplicateWireName = Error(
        "RPC0007",
        "Duplicate wire name",
        "Methods '{0}' and '{1}' both have the wire name '{2}'; give one of them another name with [RpcMethod(\"...\")]");

    public static readonly DiagnosticDescriptor MethodIdCollision = Error(
        "RPC0008",
        "Method id collision",
        "The wire names '{0}' (method '{1}') and '{2}' (method '{3}') hash to the same method id {4}; rename one with [RpcMethod(\"...\")]");

    public static readonly DiagnosticDescriptor InaccessibleContract = Error(
        "RPC0009",
        "Inaccessible contract interface",
        "Contract interface '{0}' {1}; the generated class lives in the interface's namespace and must be able to implement it");

    public static readonly DiagnosticDescriptor UnsupportedType = Error(
        "RPC0010",
        "Type cannot be serialized",
        "Type '{0}' ({1}) cannot be serialized: {2}");

    public static readonly DiagnosticDescriptor StreamParameter = Error(
        "RPC0011",
        "Stream parameter",
        "Parameter '{0}' of method '{1}' is an IAsyncEnumerable<T>; only server-to-client streams (a returned IAsyncEnumerable<T>) are supported");

    public static readonly DiagnosticDescriptor TooManyParameters = Error(
        "RPC0012",
        "Too many parameters",
        "Method '{0}' has {1} parameters; a contract method takes at most 15 (plus a CancellationToken)");

    public static readonly DiagnosticDescriptor EmptyWireName = Error(
        "RPC0013",
        "Empty wire name",
        "[RpcMethod] on method '{0}' gives an empty or blank wire name");

    public static readonly DiagnosticDescriptor NonAbstractMember = Error(
        "RPC0014",
        "Contract member with a body or static abstract member",
        "Method '{0}' {1}; a contract method is an abstract instance method that the proxy can implement");

    public static readonly DiagnosticDescriptor ReservedWireName = Error(
        "RPC0015",
        "Reserved wire name",
        "Method '{0}' has the wire name '{1}'; names starting with 'rpc.' are reserved by JSON-RPC 2.0");

    public static readonly DiagnosticDescriptor GeneratedNameConflict = Error(
        "RPC0016",
        "Generated class name already taken",
        "The class '{0}' that Rpc generates for contract '{1}' already exists in namespace '{2}'; rename that type or the interface");

    public static readonly DiagnosticDescriptor InvalidTimeout = Error(
        "RPC0017",
        "Invalid call timeout",
        "[RpcTimeout] on '{0}' {1}");

    /// <summary>Gets the descriptors by id, for turning a model's <c>DiagnosticInfo</c> back into a diagnostic.</summary>
    public static IReadOnlyDictionary<string, DiagnosticDescriptor> ById { get; } = new Dictionary<string, DiagnosticDescriptor>
    {
        [UnsupportedReturnType.Id] = UnsupportedReturnType,
        [UnsupportedParameterModifier.Id] = UnsupportedParameterModifier,
        [GenericMethod.Id] = GenericMethod,
        [UnsupportedMember.Id] = UnsupportedMember,
        [GenericContract.Id] = GenericContract,
        [CancellationTokenPosition.Id] = CancellationTokenPosition,
        [DuplicateWireName.Id] = DuplicateWireName,
        [MethodIdCollision.Id] = MethodIdCollision,
        [InaccessibleContract.Id] = InaccessibleContract,
        [UnsupportedType.Id] = UnsupportedType,
        [StreamParameter.Id] = StreamParameter,
        [TooManyParameters.Id] = TooManyParameters,
        [EmptyWireName.Id] = EmptyWireName,
        [NonAbstractMember.Id] = NonAbstractMember,
        [ReservedWireName.Id] = ReservedWireName,
        [GeneratedNameConflict.Id] = GeneratedNameConflict,
        [InvalidTimeout.Id] = InvalidTimeout,
    };

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
