using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Runtime;
using Rpc.Serialization;
using Xunit;

namespace Rpc.Generator.Tests.RoundTrip;

/// <summary>Calls the generated proxies of this project's own contracts through <see cref="LoopbackInvoker"/>.</summary>
public sealed class RoundTripTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private readonly Shapes _implementation = new();
    private readonly LoopbackInvoker _invoker;
    private readonly IShapes _proxy;

    public RoundTripTests()
    {
        var contract = RpcContractRegistry.Get<IShapes>();
        _invoker = new LoopbackInvoker(contract.CreateStub(_implementation));
        _proxy = contract.CreateProxy(_invoker);
    }

    [Fact]
    public void Contract_IsRegisteredByTheModuleInitializer()
    {
        var contract = RpcContractRegistry.Get<IShapes>();

        Assert.Same(ShapesRpc.Instance, contract);
        Assert.Equal("Rpc.Generator.Tests.RoundTrip.IShapes", contract.Name);
        Assert.Equal(
            ["Add", "Divide", "Reset", "Log", "Count", "sum", "Echo", "Maybe", "Tree", "Index", "Samples", "Keywords"],
            contract.Methods.Select(m => m.WireName));
        Assert.All(contract.Methods, m => Assert.Equal(RpcMethod.ComputeId(m.WireName), m.Id));
        Assert.Equal(ShapesRpc.MethodTable.SumId, RpcMethod.ComputeId("sum"));
        Assert.Equal(RpcMethodKind.Notification, ShapesRpc.MethodTable.Log.Kind);
        Assert.Equal(RpcMethodKind.Stream, ShapesRpc.MethodTable.Count.Kind);
        Assert.True(ShapesRpc.MethodTable.Add.AcceptsCancellation);
        Assert.False(ShapesRpc.MethodTable.Divide.AcceptsCancellation);
        Assert.Equal<string>(["class", "event", "reader", "count"], ShapesRpc.MethodTable.Keywords.ParameterNames.AsEnumerable());
    }

    [Fact]
    public async Task Primitives_RoundTrip()
    {
        Assert.Equal(5, await _proxy.AddAsync(2, 3).WaitAsync(s_timeout));
        Assert.Equal(2.5, await _proxy.DivideAsync(5, 2).AsTask().WaitAsync(s_timeout));
        await _proxy.ResetAsync().WaitAsync(s_timeout);
        _proxy.Log("hello");
        Assert.Equal(12, await _proxy.KeywordsAsync(1, "four", 3, 4).WaitAsync(s_timeout));

        Assert.Equal(1, _implementation.Resets);
        Assert.Equal(["hello"], _implementation.Logged);
    }

    [Fact]
    public async Task Stream_RoundTrips()
    {
        using var cancellation = new CancellationTokenSource(s_timeout);
        var items = new List<int>();
        await foreach (var item in _proxy.CountAsync(4, cancellation.Token))
        {
            items.Add(item);
        }

        Assert.Equal([1, 2, 3, 4], items);
    }

    [Fact]
    public async Task Records_RoundTrip()
    {
        var echoed = await _proxy.EchoAsync(new Point(1, 2) { Tag = "t" }).WaitAsync(s_timeout);
        Assert.Equal(new Point(1, 2) { Tag = "t!" }, echoed);

        Assert.Null(await _proxy.MaybeAsync(null).AsTask().WaitAsync(s_timeout));
        Assert.Equal(new Point(3, 4), await _proxy.MaybeAsync(new Point(3, 4)).AsTask().WaitAsync(s_timeout));

        Assert.Equal(10, await _proxy.SumAsync([new Point(1, 2), new Point(3, 4)], null).WaitAsync(s_timeout));
        Assert.Equal(-3, await _proxy.SumAsync([new Point(1, 2)], "negate").WaitAsync(s_timeout));
    }

    [Fact]
    public async Task RecursiveType_RoundTrips()
    {
        var root = new Tree { Name = "root" };
        root.Children.Add(new Tree { Name = "a", Children = [new Tree { Name = "a1" }] });
        root.Children.Add(new Tree { Name = "b" });

        var copy = await _proxy.TreeAsync(root).WaitAsync(s_timeout);

        Assert.Equal("root'", copy.Name);
        Assert.Equal(["a", "b"], copy.Children.Select(c => c.Name));
        Assert.Equal("a1", copy.Children[0].Children.Single().Name);
        Assert.Equal(2, copy.Count);
    }

    [Fact]
    public async Task Collections_RoundTrip()
    {
        var pairs = new[] { new Pair("x", Shade.Dark), new Pair("y", Shade.Light), new Pair("z", Shade.Light) };

        var index = await _proxy.IndexAsync(pairs, [Shade.Dark], Shade.Light).WaitAsync(s_timeout);

        Assert.Equal(["x", "y", "z"], index.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(Shade.Dark, index["x"].Shade);

        var none = await _proxy.IndexAsync(pairs, [], null).WaitAsync(s_timeout);
        Assert.Empty(none);
    }

    [Fact]
    public async Task StructsArraysAndScalars_RoundTrip()
    {
        var at = new DateTimeOffset(2020, 5, 6, 7, 8, 9, TimeSpan.FromHours(-5));
        var samples = new[] { new Sample { Value = 1.5, At = at }, new Sample { Value = 2.5, At = at } };

        var result = await _proxy.SamplesAsync(samples, 1, Guid.NewGuid(), TimeSpan.FromSeconds(3), 0.25m, [1, 2], new byte[] { 3, 4, 5 }).WaitAsync(s_timeout);

        Assert.Equal(2, result.Length);
        Assert.Equal(samples[0], result[0]);
        Assert.Equal(at, result[0].At);
        Assert.Equal(0.25 + 2 + 3 + 3, result[1].Value);
        Assert.Equal(TimeSpan.FromHours(2), result[1].At.Offset);
    }

    [Fact]
    public async Task InheritedMethods_AreCalledThroughTheirDeclaringInterface()
    {
        var contract = RpcContractRegistry.Get<IDerivedService>();
        var proxy = contract.CreateProxy(new LoopbackInvoker(contract.CreateStub(new Derived())));

        Assert.Equal(["who2", "Who"], contract.Methods.Select(m => m.WireName));
        Assert.Equal("derived", await proxy.WhoAsync().WaitAsync(s_timeout));
        Assert.Equal("base", await ((IBaseService)proxy).WhoAsync().WaitAsync(s_timeout));
    }

    [Fact]
    public void Delegates_UseTheContractsParameterNames()
    {
        var add = _invoker.Handlers["Add"];

        Assert.Equal(["a", "b", "cancellationToken"], add.Method.GetParameters().Select(p => p.Name));
        Assert.IsType<Func<int, int, CancellationToken, Task<int>>>(add);
        Assert.IsType<Action<string>>(_invoker.Handlers["Log"]);
    }

    [Fact]
    public async Task MissingNonNullableArgument_IsRejected()
    {
        var proxy = ShapesRpc.Instance.CreateProxy(new EmptyArgumentsInvoker());

        var error = await Assert.ThrowsAsync<MessagePackSerializationException>(() => proxy.SumAsync([], null).WaitAsync(s_timeout));
        Assert.Contains("'points'", error.Message, StringComparison.Ordinal);

        // A nullable one is simply left null.
        Assert.Equal(0, await proxy.AddAsync(1, 2).WaitAsync(s_timeout));
    }

    [Fact]
    public void NilForNonNullableMember_IsRejected()
    {
        var formatter = new ArrayFormatterProbe();
        var error = Assert.Throws<MessagePackSerializationException>(() => formatter.ReadTreeWithNilName());
        Assert.Contains("'Name'", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Reads every call's arguments from an empty MessagePack array, as a peer that sent none would.</summary>
    private sealed class EmptyArgumentsInvoker : IRpcInvoker
    {
        public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments>
        {
            var reader = new MessagePackReader(new byte[] { 0x90 });
            var read = TArguments.Read(ref reader);
            var first = read.ToPositionalArray().FirstOrDefault();
            return Task.FromResult(first is TResult result ? result : default!);
        }

        public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();
    }

    /// <summary>Gets the generated Tree formatter through a proxy call and feeds it a tree whose name is nil.</summary>
    private sealed class ArrayFormatterProbe : IRpcInvoker
    {
        private RpcFormatter<Tree>? _formatter;

        public void ReadTreeWithNilName()
        {
            _ = ShapesRpc.Instance.CreateProxy(this).TreeAsync(new Tree { Name = "x" });
            var bytes = new byte[] { 0x93, 0xC0, 0x90, 0xC0 }; // [nil, [], nil]
            var reader = new MessagePackReader(bytes);
            _formatter!.Read(ref reader);
        }

        public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments>
        {
            _formatter = (RpcFormatter<Tree>)(object)resultFormatter;
            return Task.FromResult(default(TResult)!);
        }

        public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();

        public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
            where TArguments : struct, IRpcArguments<TArguments> => throw new NotSupportedException();
    }
}
