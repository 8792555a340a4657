using Rpc.Generator.Tests.Infrastructure;
using Xunit;

namespace Rpc.Generator.Tests;

/// <summary>
/// Snapshots of the generated source, compared with <c>Baselines/&lt;Test&gt;/*.g.cs.txt</c>. Every snapshot also has to
/// compile with zero warnings, so a baseline can never record broken code.
/// </summary>
public sealed class BaselineTests
{
    [Fact]
    public void Calculator() => Verify("""
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo;

        [RpcContract, RpcTimeout(30000)]
        public interface ICalculator
        {
            Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);
            [RpcTimeout(250)] ValueTask<double> DivideAsync(double a, double b);
            Task ResetAsync();
            void Log(string message);
            IAsyncEnumerable<int> CountAsync(int to, CancellationToken cancellationToken = default);
            [RpcMethod("sum")] Task<long> SumAsync(List<Point> points, string? label);
        }

        public record Point(int X, int Y)
        {
            public string? Tag { get; init; }
        }
        """);

    [Fact]
    public void Inheritance() => Verify("""
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo.Shapes;

        public interface IPingable
        {
            Task PingAsync();
        }

        public interface ILeft : IPingable
        {
            [RpcMethod("left.name")] Task<string> NameAsync();
        }

        public interface IRight : IPingable
        {
            [RpcMethod("right.name")] Task<string> NameAsync();
        }

        [RpcContract]
        public interface IDiamond : ILeft, IRight
        {
            ValueTask<int> SidesAsync();
        }
        """);

    [Fact]
    public void NestedInterface() => Verify("""
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo;

        public static partial class Services
        {
            internal sealed class Inner
            {
                [RpcContract]
                internal interface IClock
                {
                    Task<System.DateTimeOffset> NowAsync();
                }
            }
        }

        [RpcContract]
        interface GlobalishService
        {
            void Touch();
        }
        """);

    [Fact]
    public void GlobalNamespace() => Verify("""
        using System.Threading.Tasks;
        using Rpc;

        [RpcContract]
        public interface IEcho
        {
            Task<string?> EchoAsync(string? text);
        }
        """);

    [Fact]
    public void UserTypes() => Verify("""
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo.Types;

        public enum Color : byte { Red, Green }

        public record Person(string Name, int Age)
        {
            public string? Nickname { get; init; }
            public required IReadOnlyList<string> Tags { get; init; }
            public string Display => Name + " (" + Age + ")";
        }

        public sealed record Employee(string Name, int Age, decimal Salary) : Person(Name, Age);

        public class TreeNode
        {
            public string Label { get; set; } = "";
            public List<TreeNode> Children { get; set; } = [];
            public TreeNode? Parent { get; set; }
        }

        public struct Vector
        {
            public double X { get; set; }
            public double Y;
        }

        public readonly record struct Range(int Start, int End);

        [RpcContract]
        public interface IDirectory
        {
            Task<Person?> FindAsync(Guid id, Color? color);
            Task SaveAsync(Employee employee, Dictionary<string, Person> byName, HashSet<Color> colors);
            ValueTask<TreeNode> TreeAsync(TreeNode? root);
            IAsyncEnumerable<Vector> VectorsAsync(Range range, Vector[] seed, IEnumerable<Vector?> extra);
            Task<IReadOnlyDictionary<int, string[]>> LookupAsync(ISet<long> keys, ReadOnlyMemory<byte> blob, RpcBuffer? buffer, TimeSpan timeout);
        }
        """);

    [Fact]
    public void KeywordParameterNames() => Verify("""
        using System.Threading;
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo;

        [RpcContract]
        public interface IKeywords
        {
            Task<int> ClassAsync(int @class, string @event, CancellationToken @checked);
            Task CollideAsync(int reader, int count, int i, int writer, int value, int args, int call, int registry);
            Task ShadowAsync(int MethodTable, int Formatters, int Proxy, int Stub, int ShadowArguments);
            Task Async();
            Task AllAsync(int Write, int Read);
            Task<int> PassAsync(string target, int implementation, int target_);
        }
        """);

    [Fact]
    public void SharedArrayHandles() => Verify("""
        using System.Threading.Tasks;
        using Rpc;
        using Rpc.SharedState;

        namespace Demo;

        public record struct Pixel(byte R, byte G, byte B);

        [RpcContract]
        public interface IFrames
        {
            Task<int> BlurAsync(SharedArray<Pixel> frame, int radius);
            Task<SharedArray<float>?> HistogramAsync(SharedArray<Pixel>? frame);
            Task<long> SumAsync(SharedArraySlice<long> part);
        }
        """);

    private static void Verify(string source, [System.Runtime.CompilerServices.CallerMemberName] string testName = "")
    {
        var run = TestCompilation.Run(source);
        Assert.Empty(run.AllProblems());
        Baseline.Verify(run.GeneratedSources, testName);
    }
}
