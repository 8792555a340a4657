using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Diagnostics;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Groups;

/// <summary>Which members a fan-out reaches.</summary>
internal abstract class MemberFilter
{
    public abstract bool Includes(RpcConnection connection);

    public static MemberFilter Except(IEnumerable<RpcConnection> connections) => new SetFilter(connections, included: false);

    public static MemberFilter Only(IEnumerable<RpcConnection> connections) => new SetFilter(connections, included: true);

    public static MemberFilter Where(Func<RpcConnection, bool> predicate) => new PredicateFilter(predicate);

    private sealed class SetFilter(IEnumerable<RpcConnection> connections, bool included) : MemberFilter
    {
        // RpcConnection does not override equality: the set compares references, as membership does.
        private readonly HashSet<RpcConnection> _connections = [.. connections];

        public override bool Includes(RpcConnection connection) => _connections.Contains(connection) == included;
    }

    private sealed class PredicateFilter(Func<RpcConnection, bool> predicate) : MemberFilter
    {
        public override bool Includes(RpcConnection connection) => predicate(connection);
    }
}

/// <summary>
/// The invoker behind a group's generated proxy: one-way methods fan out to the members the filter selects.
/// Methods with a reply have no single result to return, so they point to <see cref="RpcGroup{TContract}.InvokeAsync{TResult}"/>.
/// </summary>
internal sealed class GroupInvoker<TContract>(RpcGroup<TContract> group, MemberFilter? filter) : IRpcInvoker
    where TContract : class
{
    public void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        using var broadcast = RpcTelemetry.Activities.HasListeners() ? CallObservation.StartBroadcast(method, group.Name) : null;
        group.Broadcast(method, arguments, filter);
    }

    public Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        Task.FromException<TResult>(NotOneWay(method));

    public Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        Task.FromException(NotOneWay(method));

    public ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        ValueTask.FromException<TResult>(NotOneWay(method));

    public ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        ValueTask.FromException(NotOneWay(method));

    public IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments> =>
        throw NotOneWay(method);

    private static NotSupportedException NotOneWay(RpcMethod method) => new(
        $"'{method.WireName}' has a reply: a group proxy only fans out one-way (void) methods. Use RpcGroup.InvokeAsync to gather each member's result or error.");
}
