using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Rpc.Generator.Tests.Infrastructure;
using Xunit;

namespace Rpc.Generator.Tests;

/// <summary>One test per diagnostic: its id, where it points (the line marked <c>// here</c> and the span's text), and no output.</summary>
public sealed class DiagnosticTests
{
    private const string Usings = """
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using Rpc;

        namespace Demo;

        """;

    [Fact]
    public void ValidContract_HasNoDiagnostics()
    {
        var run = TestCompilation.Run(Usings + """
            [RpcContract]
            public interface ICalculator
            {
                Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);
                void Log(string message);
            }
            """);

        Assert.Empty(run.AllProblems());
        Assert.Single(run.GeneratedSources);
    }

    [Fact]
    public void RPC0001_UnsupportedReturnType() => AssertDiagnostic("RPC0001", "int", """
        [RpcContract]
        public interface IC
        {
            int Add(int a); // here
        }
        """);

    [Fact]
    public void RPC0002_RefParameter() => AssertDiagnostic("RPC0002", "x", """
        [RpcContract]
        public interface IC
        {
            Task M(ref int x); // here
        }
        """);

    [Fact]
    public void RPC0002_ParamsParameter() => AssertDiagnostic("RPC0002", "xs", """
        [RpcContract]
        public interface IC
        {
            Task M(params int[] xs); // here
        }
        """);

    [Fact]
    public void RPC0002_RefLikeParameter() => AssertDiagnostic("RPC0002", "data", """
        [RpcContract]
        public interface IC
        {
            Task M(ReadOnlySpan<byte> data); // here
        }
        """);

    [Fact]
    public void RPC0003_GenericMethod() => AssertDiagnostic("RPC0003", "M", """
        [RpcContract]
        public interface IC
        {
            Task M<T>(int x); // here
        }
        """);

    [Fact]
    public void RPC0004_Property() => AssertDiagnostic("RPC0004", "Value", """
        [RpcContract]
        public interface IC
        {
            int Value { get; } // here
        }
        """);

    [Fact]
    public void RPC0004_Event() => AssertDiagnostic("RPC0004", "Changed", """
        [RpcContract]
        public interface IC
        {
            event EventHandler Changed; // here
        }
        """);

    [Fact]
    public void RPC0004_Indexer() => AssertDiagnostic("RPC0004", "this", """
        [RpcContract]
        public interface IC
        {
            int this[int i] { get; } // here
        }
        """);

    [Fact]
    public void RPC0005_GenericContract() => AssertDiagnostic("RPC0005", "IC", """
        [RpcContract]
        public interface IC<T> // here
        {
            Task M();
        }
        """);

    [Fact]
    public void RPC0006_CancellationTokenNotLast() => AssertDiagnostic("RPC0006", "ct", """
        [RpcContract]
        public interface IC
        {
            Task M(CancellationToken ct, int x); // here
        }
        """);

    [Fact]
    public void RPC0006_TwoCancellationTokens()
    {
        var run = TestCompilation.Run(Usings + """
            [RpcContract]
            public interface IC
            {
                Task M(int x, CancellationToken a, CancellationToken b);
            }
            """);

        Assert.Equal(["RPC0006", "RPC0006"], run.Diagnostics.Select(d => d.Id));
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void RPC0007_DuplicateWireName() => AssertDiagnostic("RPC0007", "Other", """
        [RpcContract]
        public interface IC
        {
            Task PingAsync();
            [RpcMethod("Ping")] Task Other(); // here
        }
        """);

    [Fact]
    public void RPC0007_DuplicateWireNameFromBaseInterfaces() => AssertDiagnostic("RPC0007", "Ping", """
        public interface IA { Task Ping(); }
        public interface IB { Task Ping(); } // here
        [RpcContract]
        public interface IC : IA, IB
        {
        }
        """);

    [Fact]
    public void RPC0008_MethodIdCollision()
    {
        // Two wire names whose FNV-1a 32 hashes are equal (checked against the runtime below).
        Assert.Equal(Rpc.Runtime.RpcMethod.ComputeId("nakmvxxv"), Rpc.Runtime.RpcMethod.ComputeId("tbdxatiq"));
        AssertDiagnostic("RPC0008", "B", """
            [RpcContract]
            public interface IC
            {
                [RpcMethod("nakmvxxv")] Task A();
                [RpcMethod("tbdxatiq")] Task B(); // here
            }
            """);
    }

    [Fact]
    public void RPC0009_PrivateNestedInterface() => AssertDiagnostic("RPC0009", "IC", """
        public class Outer
        {
            [RpcContract]
            private interface IC // here
            {
                Task M();
            }
        }
        """);

    [Fact]
    public void RPC0009_NestedInGenericType() => AssertDiagnostic("RPC0009", "IC", """
        public class Outer<T>
        {
            [RpcContract]
            public interface IC // here
            {
                Task M();
            }
        }
        """);

    [Fact]
    public void RPC0010_ObjectParameter() => AssertDiagnostic("RPC0010", "object", """
        [RpcContract]
        public interface IC
        {
            Task M(object value); // here
        }
        """);

    [Fact]
    public void RPC0010_InterfaceResult() => AssertDiagnostic("RPC0010", "Task<IDisposable>", """
        [RpcContract]
        public interface IC
        {
            Task<IDisposable> M(); // here
        }
        """);

    [Fact]
    public void RPC0010_TaskParameter() => AssertDiagnostic("RPC0010", "Task", """
        [RpcContract]
        public interface IC
        {
            Task M(Task other); // here
        }
        """);

    [Fact]
    public void RPC0010_DelegateParameter() => AssertDiagnostic("RPC0010", "Action", """
        [RpcContract]
        public interface IC
        {
            Task M(Action callback); // here
        }
        """);

    [Fact]
    public void RPC0010_AbstractClass() => AssertDiagnostic("RPC0010", "Shape", """
        public abstract class Shape { public int Sides { get; set; } }
        [RpcContract]
        public interface IC
        {
            Task M(Shape shape); // here
        }
        """);

    [Fact]
    public void RPC0010_NoUsableConstructor() => AssertDiagnostic("RPC0010", "Widget", """
        public sealed class Widget
        {
            public Widget(int size, string unrelated) => Size = size;
            public int Size { get; }
        }
        [RpcContract]
        public interface IC
        {
            Task M(Widget widget); // here
        }
        """);

    [Fact]
    public void RPC0010_UnsupportedMemberOfUserType()
    {
        var diagnostic = AssertDiagnostic("RPC0010", "List<Holder>", """
            public sealed class Holder { public object? Value { get; set; } }
            [RpcContract]
            public interface IC
            {
                Task M(List<Holder> holders); // here
            }
            """);
        Assert.Contains("member 'Value' of Holder", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void RPC0011_StreamParameter() => AssertDiagnostic("RPC0011", "items", """
        [RpcContract]
        public interface IC
        {
            Task M(IAsyncEnumerable<int> items); // here
        }
        """);

    [Fact]
    public void RPC0012_TooManyParameters() => AssertDiagnostic("RPC0012", "M", """
        [RpcContract]
        public interface IC
        {
            Task M(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10, int a11, int a12, int a13, int a14, int a15, int a16); // here
        }
        """);

    [Fact]
    public void FifteenParametersAndAToken_AreAllowed()
    {
        var run = TestCompilation.Run(Usings + """
            [RpcContract]
            public interface IC
            {
                Task<int> M(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10, int a11, int a12, int a13, int a14, int a15, CancellationToken ct);
                void N(int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10, int a11, int a12, int a13, int a14, int a15, CancellationToken ct);
            }
            """);

        Assert.Empty(run.AllProblems());
    }

    [Fact]
    public void RPC0013_EmptyWireName() => AssertDiagnostic("RPC0013", "RpcMethod(\" \")", """
        [RpcContract]
        public interface IC
        {
            [RpcMethod(" ")] Task M(); // here
        }
        """);

    [Fact]
    public void RPC0017_NonPositiveTimeout() => AssertDiagnostic("RPC0017", "RpcTimeout(0)", """
        [RpcContract]
        public interface IC
        {
            [RpcTimeout(0)] Task M(); // here
        }
        """);

    [Fact]
    public void RPC0017_TimeoutOnNotification() => AssertDiagnostic("RPC0017", "RpcTimeout(100)", """
        [RpcContract]
        public interface IC
        {
            [RpcTimeout(100)] void M(); // here
        }
        """);

    [Fact]
    public void RPC0017_NegativeContractTimeout() => AssertDiagnostic("RPC0017", "RpcTimeout(-5)", """
        [RpcContract, RpcTimeout(-5)] // here
        public interface IC
        {
            Task M();
            Task N();
        }
        """);

    [Fact]
    public void RPC0014_DefaultImplementation() => AssertDiagnostic("RPC0014", "M", """
        [RpcContract]
        public interface IC
        {
            Task M() => Task.CompletedTask; // here
        }
        """);

    [Fact]
    public void RPC0014_StaticAbstractMember() => AssertDiagnostic("RPC0014", "Create", """
        [RpcContract]
        public interface IC
        {
            static abstract IC Create(); // here
        }
        """);

    [Fact]
    public void StaticHelpers_AreIgnored()
    {
        var run = TestCompilation.Run(Usings + """
            [RpcContract]
            public interface IC
            {
                const int Limit = 3;
                static int Twice(int x) => x * 2;
                Task M();
            }
            """);

        Assert.Empty(run.AllProblems());
    }

    [Fact]
    public void RPC0015_ReservedWireName() => AssertDiagnostic("RPC0015", "M", """
        [RpcContract]
        public interface IC
        {
            [RpcMethod("rpc.ping")] Task M(); // here
        }
        """);

    [Fact]
    public void RPC0016_GeneratedNameTaken() => AssertDiagnostic("RPC0016", "ICalculator", """
        public sealed class CalculatorRpc { }
        [RpcContract]
        public interface ICalculator // here
        {
            Task M();
        }
        """);

    /// <summary>Asserts exactly one diagnostic, its id, its span text and its line; and that nothing was generated.</summary>
    private static Diagnostic AssertDiagnostic(string id, string spanText, string body)
    {
        var source = Usings + body;
        var run = TestCompilation.Run(source);

        var diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);

        // The model stores plain values (path, span, line span), so the reported location is a file location.
        var lineSpan = diagnostic.Location.GetLineSpan();
        Assert.Equal("Contract.cs", lineSpan.Path);
        Assert.Equal(spanText, source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        var expectedLine = Array.FindIndex(source.Split('\n'), l => l.Contains("// here", StringComparison.Ordinal));
        Assert.Equal(expectedLine, lineSpan.StartLinePosition.Line);
        Assert.DoesNotContain("{", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        // An invalid contract produces no file, never broken code.
        Assert.Empty(run.GeneratedSources);
        return diagnostic;
    }
}
