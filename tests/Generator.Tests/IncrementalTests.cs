using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Rpc.Generator.Model;
using Rpc.Generator.Tests.Infrastructure;
using Xunit;

namespace Rpc.Generator.Tests;

/// <summary>The pipeline caches: an unrelated edit re-emits nothing, and the model holds no Roslyn objects.</summary>
public sealed class IncrementalTests
{
    private const string Contract = """
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo;

        [RpcContract]
        public interface ICalculator
        {
            Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);
            [RpcMethod("sum")] Task<long> SumAsync(List<Point> points, string? label);
            void Broken(object value);
        }

        [RpcContract]
        public interface IValid
        {
            Task<Point> EchoAsync(Point point);
        }

        public record Point(int X, int Y);
        """;

    [Fact]
    public void UnrelatedEdit_LeavesEveryStepCached()
    {
        var compilation = TestCompilation.Create(Contract);
        var driver = TestCompilation.CreateDriver().RunGenerators(compilation);
        var first = driver.GetRunResult();
        Assert.Single(first.GeneratedTrees);
        Assert.Single(first.Diagnostics);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Demo; internal sealed class Unrelated { public int Value { get; set; } }",
            TestCompilation.ParseOptions,
            path: "Unrelated.cs"));
        var second = driver.RunGenerators(edited).GetRunResult();

        // Same output and the same diagnostics (reported again from the cached model).
        Assert.Equal(first.GeneratedTrees.Select(t => t.ToString()), second.GeneratedTrees.Select(t => t.ToString()));
        Assert.Single(second.Diagnostics);

        var steps = second.Results[0].TrackedSteps;
        Assert.True(steps.ContainsKey(TrackingNames.Contracts), "The contract step is not tracked.");
        foreach (var step in steps[TrackingNames.Contracts])
        {
            foreach (var (_, reason) in step.Outputs)
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{TrackingNames.Contracts} output was {reason}.");
            }
        }

        foreach (var (_, reason) in second.Results[0].TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs))
        {
            Assert.Equal(IncrementalStepRunReason.Cached, reason);
        }
    }

    [Fact]
    public void EditingTheContract_RegeneratesIt()
    {
        var compilation = TestCompilation.Create(Contract);
        var driver = TestCompilation.CreateDriver().RunGenerators(compilation);

        var tree = compilation.SyntaxTrees.Single();
        var changed = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            Contract.Replace("Task<Point> EchoAsync(Point point);", "Task<Point> EchoAsync(Point point, int times);", StringComparison.Ordinal))));
        var result = driver.RunGenerators(changed).GetRunResult();

        var outputs = result.Results[0].TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, outputs);
        Assert.Contains("times", result.GeneratedTrees.Single().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Model_HoldsNoRoslynObjects()
    {
        var compilation = TestCompilation.Create(Contract, """
            using System.Threading.Tasks;
            using Rpc;
            namespace Demo.More;
            public sealed class Node { public System.Collections.Generic.List<Node>? Children { get; set; } public Demo.Point? At { get; set; } }
            [RpcContract]
            public interface ITree { ValueTask<Node> GetAsync(Node root, int? depth); }
            """);
        var result = TestCompilation.CreateDriver().RunGenerators(compilation).GetRunResult();

        var models = result.Results[0].TrackedSteps[TrackingNames.Contracts]
            .SelectMany(s => s.Outputs)
            .Select(o => o.Value)
            .ToList();
        Assert.Equal(3, models.Count);
        Assert.All(models, m => Assert.IsType<ContractParseResult>(m));
        foreach (var model in models)
        {
            Walk(model, "model", new HashSet<object>(ReferenceEqualityComparer.Instance));
        }
    }

    [Fact]
    public void Model_IsEqualAcrossIndependentRuns()
    {
        static ContractParseResult[] Parse() => TestCompilation.CreateDriver()
            .RunGenerators(TestCompilation.Create(Contract))
            .GetRunResult().Results[0].TrackedSteps[TrackingNames.Contracts]
            .SelectMany(s => s.Outputs).Select(o => (ContractParseResult)o.Value).ToArray();

        var first = Parse();
        var second = Parse();
        Assert.Equal(first, second);
        Assert.Equal(first.Select(r => r.GetHashCode()), second.Select(r => r.GetHashCode()));
    }

    private static void Walk(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum)
        {
            return;
        }

        Assert.False(
            value is ISymbol or SyntaxNode or Location or Compilation or SemanticModel or SyntaxTree,
            $"{path} holds a {value.GetType().Name}: the model must hold only values so the pipeline can cache it.");

        var type = value.GetType();
        Assert.False(type.IsArray || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>)),
            $"{path} is a {type.Name}, which compares by reference; use EquatableArray<T>.");

        if (!type.IsValueType && !seen.Add(value))
        {
            return;
        }

        if (value is IEnumerable items)
        {
            var i = 0;
            foreach (var item in items)
            {
                Walk(item, $"{path}[{i++}]", seen);
            }
        }

        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (field.FieldType.IsArray && type.Name.StartsWith("EquatableArray", StringComparison.Ordinal))
            {
                // EquatableArray's storage: walked through its enumerator above.
                continue;
            }

            Walk(field.GetValue(value), path + "." + field.Name, seen);
        }
    }
}
