using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading;
using Rpc.Diagnostics;

namespace Rpc.Groups;

/// <summary>What the <c>Rpc</c> meter observes of a live group.</summary>
internal interface IObservedGroup
{
    KeyValuePair<string, object?> NameTag { get; }

    /// <summary>Gets the member count, the total of queued messages and the deepest member queue.</summary>
    (int Members, long QueuedMessages, int MaxQueueDepth) Observe();
}

/// <summary>
/// The <c>rpc.group.*</c> instruments of one <c>Rpc</c> meter, shared by the groups on it. Observable ones enumerate
/// those live groups, held weakly so a group nobody disposed still goes away with its last reference.
/// </summary>
internal sealed class RpcGroupMetrics
{
    private readonly ConditionalWeakTable<IObservedGroup, object?> _groups = [];

    private RpcGroupMetrics(Meter meter)
    {
        MessagesSent = meter.CreateCounter<long>(
            "rpc.group.messages.sent", "{message}", "Messages written to members' connections (one per member per message).");
        MessagesDropped = meter.CreateCounter<long>(
            "rpc.group.messages.dropped", "{message}", "Messages a member did not get, by rpc.group.drop_reason: drop_oldest, disconnect, wait_timeout, member_left.");
        MembersDisconnected = meter.CreateCounter<long>(
            "rpc.group.members.disconnected", "{member}", "Members disconnected by the full-queue policy, by rpc.group.drop_reason: disconnect, wait_timeout.");
        meter.CreateObservableGauge("rpc.group.members", () => Observe(0), "{member}", "Members of each group.");
        meter.CreateObservableGauge("rpc.group.queue.depth", () => Observe(1), "{message}", "Messages waiting in all member queues of each group.");
        meter.CreateObservableGauge("rpc.group.queue.depth.max", () => Observe(2), "{message}", "Messages waiting in the deepest member queue of each group.");
    }

    public Counter<long> MessagesSent { get; }

    public Counter<long> MessagesDropped { get; }

    public Counter<long> MembersDisconnected { get; }

    /// <summary>Gets the instruments on <paramref name="factory"/>'s meter, or on the shared one.</summary>
    public static RpcGroupMetrics For(IMeterFactory? factory) => RpcTelemetry.For(factory, static meter => new RpcGroupMetrics(meter));

    public void Track(IObservedGroup group) => _groups.AddOrUpdate(group, null);

    public void Untrack(IObservedGroup group) => _groups.Remove(group);

    private List<Measurement<long>> Observe(int which)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (group, _) in _groups)
        {
            var (members, queued, max) = group.Observe();
            var value = which switch
            {
                0 => members,
                1 => queued,
                _ => max,
            };
            measurements.Add(new Measurement<long>(value, group.NameTag));
        }

        return measurements;
    }
}

/// <summary>One group's counters, shared by its members; also feeds the meter, tagged with the group's name.</summary>
internal sealed class GroupCounters(string name, RpcGroupMetrics metrics)
{
    public const string DropOldest = "drop_oldest";
    public const string Disconnect = "disconnect";
    public const string WaitTimeout = "wait_timeout";
    public const string MemberLeft = "member_left";

    private long _dropped;
    private long _disconnected;

    public KeyValuePair<string, object?> NameTag { get; } = new("rpc.group.name", name);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Disconnected => Interlocked.Read(ref _disconnected);

    public void AddSent(int count) => metrics.MessagesSent.Add(count, NameTag);

    public void AddDropped(long count, string reason)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _dropped, count);
        metrics.MessagesDropped.Add(count, NameTag, new KeyValuePair<string, object?>("rpc.group.drop_reason", reason));
    }

    public void AddDisconnected(string reason)
    {
        Interlocked.Increment(ref _disconnected);
        metrics.MembersDisconnected.Add(1, NameTag, new KeyValuePair<string, object?>("rpc.group.drop_reason", reason));
    }
}
