using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Connections;
using Rpc.Diagnostics;
using Rpc.Groups;
using Rpc.Runtime;

namespace Rpc;

/// <summary>
/// A typed proxy over a group of connections: one call on <see cref="All"/> (or <see cref="Except"/>,
/// <see cref="Only"/>, <see cref="Where"/>) sends a notification to every selected member; <see cref="InvokeAsync{TResult}"/>
/// calls every member and gathers each one's result or error.
/// </summary>
/// <typeparam name="TContract">An <c>[RpcContract]</c> interface the members serve (for pub/sub: the callback contract
/// subscribers serve on their connection).</typeparam>
/// <remarks>
/// <para>
/// A notification is serialized once; on binary-protocol members the same frame bytes are queued for every member.
/// Each member has a bounded queue (<see cref="RpcGroupOptions.MemberQueueCapacity"/>) drained by its own sender loop,
/// so a slow or stopped member never stalls the publisher or the other members; when its queue is full,
/// <see cref="RpcGroupOptions.FullQueuePolicy"/> decides (drop the oldest and count it, disconnect it, or wait with a
/// timeout, then disconnect). Publishing never blocks except under <see cref="RpcFullQueuePolicy.Wait"/>.
/// </para>
/// <para>
/// Guarantees: each member receives the messages it gets in the order they were published (one publishing thread; across
/// threads, in the order the publishes reached the group); messages are delivered while the member is connected and in
/// the group; every message a member loses to the full-queue policy, or that is discarded from its queue when it leaves,
/// is counted (<see cref="MessagesDropped"/>, the <c>rpc.group.messages.dropped</c> counter).
/// Not guaranteed: any order across members; delivery of what is already in a connection's buffers when it is lost
/// (not counted); persistence; redelivery after a reconnect (a reconnected client is a new member and must subscribe
/// again); whether a message published concurrently with <see cref="Add"/> or <see cref="Remove"/> reaches that member.
/// Calls made through <see cref="InvokeAsync{TResult}"/> are sent directly, not through the member queues, so they may
/// overtake notifications still queued.
/// </para>
/// <para>
/// Members leave when removed or when their connection closes. JSON-RPC members get the same queueing and policies,
/// but each is sent its own notification through the protocol (no shared frame).
/// </para>
/// </remarks>
public sealed class RpcGroup<TContract> : IObservedGroup, IDisposable
    where TContract : class
{
    private readonly RpcContract<TContract> _contract;
    private readonly int _capacity;
    private readonly RpcFullQueuePolicy _policy;
    private readonly TimeSpan _waitTimeout;
    private readonly RpcGroupMetrics _metrics;
    private readonly GroupCounters _counters;

    // Null when RpcGroupOptions.LoggerFactory is.
    private readonly ILogger? _logger;
    private readonly object _gate = new();
    private readonly Dictionary<RpcConnection, GroupMember> _byConnection = [];

    // Copy-on-write, so publishing reads the members without a lock.
    private volatile GroupMember[] _members = [];
    private bool _disposed;

    /// <summary>Creates an empty group.</summary>
    /// <param name="options">Settings, or <see langword="null"/> for the defaults.</param>
    /// <exception cref="InvalidOperationException"><typeparamref name="TContract"/> has no generated contract.</exception>
    public RpcGroup(RpcGroupOptions? options = null)
    {
        options ??= new RpcGroupOptions();
        options.Validate();
        _contract = RpcContractRegistry.Get<TContract>();
        _capacity = options.MemberQueueCapacity;
        _policy = options.FullQueuePolicy;
        _waitTimeout = options.FullQueueWaitTimeout;
        Name = options.Name ?? _contract.Name;
        _metrics = RpcGroupMetrics.For(options.MeterFactory);
        _counters = new GroupCounters(Name, _metrics);
        _logger = options.LoggerFactory?.CreateLogger(RpcLog.GroupCategory);
        All = _contract.CreateProxy(new GroupInvoker<TContract>(this, null));
        _metrics.Track(this);
    }

    /// <summary>Gets the group's name (the <c>rpc.group.name</c> tag of its metrics).</summary>
    public string Name { get; }

    /// <summary>
    /// Gets the proxy whose one-way (<see langword="void"/>) methods send to every member. Its methods with a reply fail
    /// with <see cref="NotSupportedException"/>: use <see cref="InvokeAsync{TResult}"/>.
    /// </summary>
    public TContract All { get; }

    /// <summary>Gets the number of members.</summary>
    public int Count => _members.Length;

    /// <summary>Gets a snapshot of the members' connections.</summary>
    public IReadOnlyList<RpcConnection> Members
    {
        get
        {
            var members = _members;
            var connections = new RpcConnection[members.Length];
            for (var i = 0; i < members.Length; i++)
            {
                connections[i] = members[i].Connection;
            }

            return connections;
        }
    }

    /// <summary>Gets how many messages members of this group did not get, over the group's life (see <see cref="RpcFullQueuePolicy"/>).</summary>
    public long MessagesDropped => _counters.Dropped;

    /// <summary>Gets how many members the full-queue policy disconnected, over the group's life.</summary>
    public long MembersDisconnected => _counters.Disconnected;

    KeyValuePair<string, object?> IObservedGroup.NameTag => _counters.NameTag;

    /// <summary>Adds a connection. It leaves by itself when it closes.</summary>
    /// <param name="connection">The member; it must serve <typeparamref name="TContract"/> for notifications to be handled.</param>
    /// <returns><see langword="false"/> when it is already a member or already closed.</returns>
    /// <exception cref="ObjectDisposedException">The group is disposed.</exception>
    public bool Add(RpcConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        GroupMember member;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!connection.IsConnected || _byConnection.ContainsKey(connection))
            {
                return false;
            }

            member = new GroupMember(connection, _capacity, _counters);
            _byConnection.Add(connection, member);
            _members = [.. _members, member];
        }

        // Runs at once if the connection closed meanwhile, so a dead member never stays.
        _ = connection.Completion.ContinueWith(
            static (_, state) =>
            {
                var (group, member) = ((RpcGroup<TContract>, GroupMember))state!;
                group.RemoveMember(member);
            },
            (this, member),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return true;
    }

    /// <summary>Removes a connection; messages still queued for it are discarded (and counted as dropped).</summary>
    /// <param name="connection">The member.</param>
    /// <returns><see langword="false"/> when it was not a member.</returns>
    public bool Remove(RpcConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        GroupMember? member;
        lock (_gate)
        {
            _byConnection.TryGetValue(connection, out member);
        }

        return member is not null && RemoveMember(member);
    }

    /// <summary>Gets whether a connection is a member.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns><see langword="true"/> when it is a member.</returns>
    public bool Contains(RpcConnection connection)
    {
        lock (_gate)
        {
            return _byConnection.ContainsKey(connection);
        }
    }

    /// <summary>Gets a member's queue depth and counters.</summary>
    /// <param name="connection">The member.</param>
    /// <param name="statistics">The snapshot.</param>
    /// <returns><see langword="false"/> when the connection is not a member.</returns>
    public bool TryGetStatistics(RpcConnection connection, out RpcGroupMemberStatistics statistics)
    {
        GroupMember? member;
        lock (_gate)
        {
            _byConnection.TryGetValue(connection, out member);
        }

        statistics = member?.Statistics ?? default;
        return member is not null;
    }

    /// <summary>Gets a proxy whose one-way methods send to every member except <paramref name="connections"/>.</summary>
    /// <param name="connections">The members to leave out (for example the sender of a chat message).</param>
    /// <returns>The proxy; it applies to whoever is a member when each message is sent.</returns>
    public TContract Except(params RpcConnection[] connections)
    {
        ArgumentNullException.ThrowIfNull(connections);
        return _contract.CreateProxy(new GroupInvoker<TContract>(this, MemberFilter.Except(connections)));
    }

    /// <summary>Gets a proxy whose one-way methods send only to those of <paramref name="connections"/> that are members.</summary>
    /// <param name="connections">The members to send to.</param>
    /// <returns>The proxy.</returns>
    public TContract Only(params RpcConnection[] connections)
    {
        ArgumentNullException.ThrowIfNull(connections);
        return _contract.CreateProxy(new GroupInvoker<TContract>(this, MemberFilter.Only(connections)));
    }

    /// <summary>
    /// Gets a proxy whose one-way methods send to the members <paramref name="predicate"/> selects; it is evaluated for
    /// each member on each message, on the publishing thread.
    /// </summary>
    /// <param name="predicate">Selects members.</param>
    /// <returns>The proxy.</returns>
    public TContract Where(Func<RpcConnection, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return _contract.CreateProxy(new GroupInvoker<TContract>(this, MemberFilter.Where(predicate)));
    }

    /// <summary>
    /// Calls every member (or those <paramref name="where"/> selects) and gathers each one's result or error; never
    /// throws for a member's failure. A member whose connection is lost reports <see cref="ConnectionLostException"/>.
    /// </summary>
    /// <typeparam name="TResult">The method's result type.</typeparam>
    /// <param name="call">Makes the call on one member's proxy, for example <c>p =&gt; p.GetPriceAsync("X")</c>.</param>
    /// <param name="where">Selects members, or <see langword="null"/> for all.</param>
    /// <returns>One entry per member called, in membership order, once every call has completed.</returns>
    public async Task<IReadOnlyList<RpcMemberResult<TResult>>> InvokeAsync<TResult>(Func<TContract, Task<TResult>> call, Func<RpcConnection, bool>? where = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        var members = Select(where);
        var tasks = new Task<TResult>[members.Count];
        for (var i = 0; i < tasks.Length; i++)
        {
            try
            {
                tasks[i] = call(ProxyOf(members[i]));
            }
            catch (Exception exception)
            {
                tasks[i] = Task.FromException<TResult>(exception);
            }
        }

        await ((Task)Task.WhenAll(tasks)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var results = new RpcMemberResult<TResult>[tasks.Length];
        for (var i = 0; i < tasks.Length; i++)
        {
            var task = tasks[i];
            results[i] = task.IsCompletedSuccessfully
                ? new RpcMemberResult<TResult>(members[i].Connection, task.Result, null)
                : new RpcMemberResult<TResult>(members[i].Connection, default, ErrorOf(task));
        }

        return results;
    }

    /// <summary>
    /// Calls every member (or those <paramref name="where"/> selects) with a method whose reply carries no value, and
    /// gathers each one's success or error; never throws for a member's failure.
    /// </summary>
    /// <param name="call">Makes the call on one member's proxy.</param>
    /// <param name="where">Selects members, or <see langword="null"/> for all.</param>
    /// <returns>One entry per member called, in membership order, once every call has completed.</returns>
    public async Task<IReadOnlyList<RpcMemberResult>> InvokeAsync(Func<TContract, Task> call, Func<RpcConnection, bool>? where = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        var members = Select(where);
        var tasks = new Task[members.Count];
        for (var i = 0; i < tasks.Length; i++)
        {
            try
            {
                tasks[i] = call(ProxyOf(members[i]));
            }
            catch (Exception exception)
            {
                tasks[i] = Task.FromException(exception);
            }
        }

        await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var results = new RpcMemberResult[tasks.Length];
        for (var i = 0; i < tasks.Length; i++)
        {
            results[i] = new RpcMemberResult(members[i].Connection, tasks[i].IsCompletedSuccessfully ? null : ErrorOf(tasks[i]));
        }

        return results;
    }

    /// <summary>Removes every member (their connections stay open) and stops reporting metrics for the group.</summary>
    public void Dispose()
    {
        GroupMember[] members;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            members = _members;
            _members = [];
            _byConnection.Clear();
        }

        foreach (var member in members)
        {
            _counters.AddDropped(member.Close(), GroupCounters.MemberLeft);
        }

        _metrics.Untrack(this);
    }

    (int Members, long QueuedMessages, int MaxQueueDepth) IObservedGroup.Observe()
    {
        var members = _members;
        long queued = 0;
        var max = 0;
        foreach (var member in members)
        {
            var depth = member.QueueDepth;
            queued += depth;
            max = Math.Max(max, depth);
        }

        return (members.Length, queued, max);
    }

    /// <summary>Fans a notification out to the selected members. Called by the group proxies.</summary>
    internal void Broadcast<TArguments>(RpcMethod method, in TArguments arguments, MemberFilter? filter)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var members = _members;

        // One message per protocol among the members, prepared on first need: a throwing formatter fails the publish
        // before anything is queued for a member of that protocol. Groups rarely mix protocols, so the list is rare.
        PreparedMessage? prepared = null;
        List<PreparedMessage>? preparedForOthers = null;
        List<GroupMember>? full = null;
        try
        {
            foreach (var member in members)
            {
                if (member.IsClosed || (filter is not null && !filter.Includes(member.Connection)))
                {
                    continue;
                }

                var protocol = member.Connection.Protocol;
                PreparedMessage message;
                if (prepared is null)
                {
                    message = prepared = Prepare(protocol, method, arguments, members);
                }
                else if (prepared.Protocol == protocol.Protocol)
                {
                    message = prepared;
                }
                else
                {
                    message = PreparedFor(protocol, ref preparedForOthers, method, arguments, members);
                }

                message.AddReference();
                var result = member.Enqueue(message, _policy, _waitTimeout);
                if (result is EnqueueResult.Full or EnqueueResult.Closed)
                {
                    message.Release();
                    if (result == EnqueueResult.Full)
                    {
                        (full ??= []).Add(member);
                    }
                }
            }
        }
        finally
        {
            // The publisher's own references: the queues now hold the messages alone.
            prepared?.Release();
            if (preparedForOthers is not null)
            {
                foreach (var message in preparedForOthers)
                {
                    message.Release();
                }
            }
        }

        if (full is not null)
        {
            foreach (var member in full)
            {
                Disconnect(member);
            }
        }
    }

    /// <summary>Prepares the notification for the members of <paramref name="protocol"/>'s protocol; throws, sending nothing, when one of them cannot send it.</summary>
    private static PreparedMessage Prepare<TArguments>(ProtocolConnection protocol, RpcMethod method, in TArguments arguments, GroupMember[] members)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        var message = protocol.PrepareNotification(method, arguments);
        try
        {
            foreach (var member in members)
            {
                if (member.Connection.Protocol.Protocol == message.Protocol)
                {
                    message.EnsureSendableWith(member.Connection.Options);
                }
            }
        }
        catch
        {
            message.Release();
            throw;
        }

        return message;
    }

    private static PreparedMessage PreparedFor<TArguments>(ProtocolConnection protocol, ref List<PreparedMessage>? prepared, RpcMethod method, in TArguments arguments, GroupMember[] members)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        prepared ??= [];
        foreach (var message in prepared)
        {
            if (message.Protocol == protocol.Protocol)
            {
                return message;
            }
        }

        var added = Prepare(protocol, method, arguments, members);
        prepared.Add(added);
        return added;
    }

    private static Exception ErrorOf(Task task) =>
        task.IsCanceled
            ? new TaskCanceledException(task)
            : task.Exception!.InnerExceptions.Count == 1 ? task.Exception.InnerException! : task.Exception;

    private List<GroupMember> Select(Func<RpcConnection, bool>? where)
    {
        var members = _members;
        var selected = new List<GroupMember>(members.Length);
        foreach (var member in members)
        {
            if (where is null || where(member.Connection))
            {
                selected.Add(member);
            }
        }

        return selected;
    }

    private TContract ProxyOf(GroupMember member) =>
        (TContract)(member.Proxy ??= _contract.CreateProxy(member.Connection.Protocol));

    private bool RemoveMember(GroupMember member)
    {
        lock (_gate)
        {
            if (!_byConnection.TryGetValue(member.Connection, out var current) || !ReferenceEquals(current, member))
            {
                return false;
            }

            _byConnection.Remove(member.Connection);
            var members = _members;
            var index = Array.IndexOf(members, member);
            var remaining = new GroupMember[members.Length - 1];
            Array.Copy(members, 0, remaining, 0, index);
            Array.Copy(members, index + 1, remaining, index, members.Length - index - 1);
            _members = remaining;
        }

        var discarded = member.Close();
        _counters.AddDropped(discarded, GroupCounters.MemberLeft);
        if (_logger is not null && discarded > 0)
        {
            RpcLog.MemberLeftWithMessages(_logger, member.Connection.RemoteEndpoint, Name, discarded);
        }

        return true;
    }

    /// <summary>Applies the Disconnect (or Wait, after its timeout) policy: the member goes, and so does its connection.</summary>
    private void Disconnect(GroupMember member)
    {
        var reason = _policy == RpcFullQueuePolicy.Wait ? GroupCounters.WaitTimeout : GroupCounters.Disconnect;

        // The message that did not fit, then everything still queued.
        _counters.AddDropped(1, reason);
        lock (_gate)
        {
            if (_byConnection.TryGetValue(member.Connection, out var current) && ReferenceEquals(current, member))
            {
                _byConnection.Remove(member.Connection);
                _members = Array.FindAll(_members, m => !ReferenceEquals(m, member));
            }
        }

        _counters.AddDropped(member.Close(), reason);
        _counters.AddDisconnected(reason);
        if (_logger is not null)
        {
            RpcLog.MemberDisconnected(_logger, Name, member.Connection.RemoteEndpoint, _capacity, _policy);
        }

        member.Connection.Protocol.Abort(new ConnectionLostException(
            $"Disconnected by the group '{Name}': its outgoing queue of {_capacity} messages was full " +
            (_policy == RpcFullQueuePolicy.Wait ? $"for {_waitTimeout.TotalMilliseconds} ms (RpcFullQueuePolicy.Wait)." : "(RpcFullQueuePolicy.Disconnect)."), null));
    }
}
