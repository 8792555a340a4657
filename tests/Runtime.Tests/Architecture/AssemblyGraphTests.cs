using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Rpc.Runtime;
using Rpc.Transports;

namespace Rpc.Tests.Architecture;

/// <summary>
/// The assembly graph matches the packages: dependencies point one way (Contracts ← Transports ← Runtime ← JsonRpc), and
/// what generated code and the layers under a protocol see holds no protocol type.
/// </summary>
public sealed class AssemblyGraphTests
{
    private static readonly Assembly Contracts = typeof(RpcException).Assembly;
    private static readonly Assembly Transports = typeof(RpcTransports).Assembly;
    private static readonly Assembly Runtime = typeof(RpcConnection).Assembly;
    private static readonly Assembly JsonRpc = typeof(RpcProtocolJsonRpcExtensions).Assembly;

    [Fact]
    public void Each_package_is_its_own_assembly()
    {
        Assert.Equal(["Rpc.Contracts", "Rpc.Transports", "Rpc.Runtime", "Rpc.JsonRpc"], new[] { Contracts, Transports, Runtime, JsonRpc }.Select(a => a.GetName().Name));
    }

    [Fact]
    public void Runtime_references_neither_StreamJsonRpc_nor_the_JSON_RPC_package()
    {
        var references = ReferencedNames(Runtime);
        Assert.Contains("Rpc.Contracts", references);
        Assert.Contains("Rpc.Transports", references);
        Assert.DoesNotContain("StreamJsonRpc", references);
        Assert.DoesNotContain("Rpc.JsonRpc", references);
        Assert.Contains("StreamJsonRpc", ReferencedNames(JsonRpc));
    }

    [Fact]
    public void Contracts_reference_nothing_of_ours()
    {
        Assert.DoesNotContain(ReferencedNames(Contracts), name => name.StartsWith("Rpc.", StringComparison.Ordinal));
    }

    [Fact]
    public void Transports_reference_neither_the_runtime_nor_a_protocol()
    {
        var references = ReferencedNames(Transports);
        Assert.DoesNotContain("Rpc.Runtime", references);
        Assert.DoesNotContain("Rpc.JsonRpc", references);
    }

    [Fact]
    public void No_type_generated_code_sees_holds_a_protocol_type()
    {
        var violations = new List<string>();
        foreach (var type in Runtime.GetTypes().Where(t => t.Namespace is "Rpc.Runtime" or "Rpc.Serialization"))
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (TypesIn(field.FieldType).FirstOrDefault(IsProtocolType) is { } protocolType)
                {
                    violations.Add($"{type.FullName}.{field.Name}: {protocolType.FullName}");
                }
            }
        }

        Assert.Empty(violations);

        // The test sees what it guards: the seam the stubs complete calls through is there, and neutral.
        var target = typeof(RpcServerCall).GetField("_target", BindingFlags.Instance | BindingFlags.NonPublic);
        Assert.Equal("Rpc.Runtime.ServerCallTarget", target?.FieldType.FullName);
    }

    private static bool IsProtocolType(Type type) => type.Namespace?.StartsWith("Rpc.Protocols", StringComparison.Ordinal) == true;

    /// <summary>The type, its element type and its generic arguments, recursively.</summary>
    private static IEnumerable<Type> TypesIn(Type type)
    {
        yield return type;
        if (type.HasElementType)
        {
            foreach (var inner in TypesIn(type.GetElementType()!))
            {
                yield return inner;
            }
        }

        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                foreach (var inner in TypesIn(argument))
                {
                    yield return inner;
                }
            }
        }
    }

    private static string[] ReferencedNames(Assembly assembly) =>
        [.. assembly.GetReferencedAssemblies().Select(name => name.Name!)];
}
