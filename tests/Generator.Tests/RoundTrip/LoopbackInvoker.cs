using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Generator.Tests.RoundTrip;

/// <summary>
/// An in-process invoker that takes every value through the generated code and MessagePack bytes: the proxy's
/// arguments struct is written and read back, its positional array is handed to the stub's typed delegate (the
/// JSON-RPC path of <see cref="RpcStub.AddDelegates"/>), and the result is written and read with the generated
/// formatter. Everything the generator emits except <c>Dispatch</c> runs; the network is the runtime's to test.
/// </summary>
internal sealed class LoopbackInvoker : IRpcInvoker, IRpcDelegateRegistry
{
    private readonly Dictionary<string, Delegate> _handlers = new(StringComparer.Ordinal);

    public LoopbackInvoker(RpcStub stub) => stub.AddDelegates(this);

    public List<RpcMethod> Calls { get; } = [];

    public IReadOnlyDictionary<string, Delegate> Handlers => _handlers;

    void IRpcDelegateRegistry.Add(RpcMethod method, Delegate handler) => _handlers.Add(method.WireName, handler);

    public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        Complete((Task<TResult>)Call(method, arguments, cancellationToken), resultFormatter);

    public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        (Task)Call(method, arguments, cancellationToken);

    public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        new(Complete(((ValueTask<TResult>)Call(method, arguments, cancellationToken)).AsTask(), resultFormatter));

    public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        (ValueTask)Call(method, arguments, cancellationToken);

    public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments> =>
        Call(method, arguments, default);

    public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        Stream((IAsyncEnumerable<TItem>)Call(method, arguments, cancellationToken), itemFormatter, cancellationToken);

    /// <summary>Writes <paramref name="arguments"/> with the generated struct and reads them back.</summary>
    public static TArguments RoundTripArguments<TArguments>(in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        arguments.Write(ref writer);
        writer.Flush();
        var reader = new MessagePackReader(buffer.WrittenMemory);
        var copy = TArguments.Read(ref reader);
        if (!reader.End)
        {
            throw new InvalidOperationException("The arguments reader left bytes unread.");
        }

        return copy;
    }

    /// <summary>Writes <paramref name="value"/> with <paramref name="formatter"/> and reads it back.</summary>
    public static T RoundTrip<T>(T value, RpcFormatter<T> formatter)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        formatter.Write(ref writer, value);
        writer.Flush();
        var reader = new MessagePackReader(buffer.WrittenMemory);
        var copy = formatter.Read(ref reader);
        if (!reader.End)
        {
            throw new InvalidOperationException("The formatter left bytes unread.");
        }

        return copy;
    }

    private object Call<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        Calls.Add(method);
        var copy = RoundTripArguments(arguments);
        var positional = copy.ToPositionalArray();
        if (positional.Length != method.ParameterNames.Length)
        {
            throw new InvalidOperationException($"{method.WireName}: {positional.Length} arguments for {method.ParameterNames.Length} parameter names.");
        }

        var handler = _handlers[method.WireName];
        var parameters = handler.Method.GetParameters();
        if (parameters.Length != positional.Length + (method.AcceptsCancellation ? 1 : 0))
        {
            throw new InvalidOperationException($"{method.WireName}: the delegate takes {parameters.Length} parameters.");
        }

        var names = parameters.Take(positional.Length).Select(p => p.Name).ToArray();
        if (!names.SequenceEqual(method.ParameterNames))
        {
            throw new InvalidOperationException($"{method.WireName}: delegate parameters are named {string.Join(", ", names)}.");
        }

        var all = method.AcceptsCancellation ? [.. positional, cancellationToken] : positional;
        return handler.DynamicInvoke(all) ?? new object();
    }

    private static async Task<TResult> Complete<TResult>(Task<TResult> task, RpcFormatter<TResult> formatter) =>
        RoundTrip(await task.ConfigureAwait(false), formatter);

    private static async IAsyncEnumerable<TItem> Stream<TItem>(IAsyncEnumerable<TItem> items, RpcFormatter<TItem> formatter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return RoundTrip(item, formatter);
        }
    }
}
