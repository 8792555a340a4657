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
/// The <c>rpc.group.*</c> instruments of the <c>Rpc</c> meter. Instruments are created once; observable ones enumerate the live groups, which are
/// held weakly so a group nobody disposed still goes away with its last reference.
/// </summary>
internal static class RpcGroupMetrics
{
    private static readonly Meter s_meter = RpcTelemetry.SharedMeter;
    private static readonly ConditionalWeakTable<IObservedGroup, object?> s_groups = [];

    public static readonly Counter<long> MessagesSent = s_meter.CreateCounter<long>(
        "rpc.group.messages.sent", "{message}", "Messages written to members' connections (one per member per message).");

    public static readonly Counter<long> MessagesDropped = s_meter.CreateCounter<long>(
        "rpc.group.messages.dropped", "{message}", "Messages a member did not get, by rpc.group.drop_reason: drop_oldest, disconnect, wait_timeout, member_left.");

    public static readonly Counter<long> MembersDisconnected = s_meter.CreateCounter<long>(
        "rpc.group.members.disconnected", "{member}", "Members disconnected by the full-queue policy, by rpc.group.drop_reason: disconnect, wait_timeout.");

    private static readonly ObservableGauge<long> s_members = s_meter.CreateObservableGauge(
        "rpc.group.members", static () => Observe(0), "{member}", "Members of each group.");

    private static readonly ObservableGauge<long> s_queueDepth = s_meter.CreateObservableGauge(
        "rpc.group.queue.depth", static () => Observe(1), "{message}", "Messages waiting in all member queues of each group.");

    private static readonly ObservableGauge<long> s_maxQueueDepth = s_meter.CreateObservableGauge(
        "rpc.group.queue.depth.max", static () => Observe(2), "{message}", "Messages waiting in the deepest member queue of each group.");

    public static void Track(IObservedGroup group)
    {
        // Touch the gauges so the static initializer cannot drop them as unused.
        _ = s_members;
        _ = s_queueDepth;
        _ = s_maxQueueDepth;
        s_groups.AddOrUpdate(group, null);
    }

    public static void Untrack(IObservedGroup group) => s_groups.Remove(group);

    private static List<Measurement<long>> Observe(int which)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (group, _) in s_groups)
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
internal sealed class GroupCounters(string name)
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

    public void AddSent(int count) => RpcGroupMetrics.MessagesSent.Add(count, NameTag);

    public void AddDropped(long count, string reason)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _dropped, count);
        RpcGroupMetrics.MessagesDropped.Add(count, NameTag, new KeyValuePair<string, object?>("rpc.group.drop_reason", reason));
    }

    public void AddDisconnected(string reason)
    {
        Interlocked.Increment(ref _disconnected);
        RpcGroupMetrics.MembersDisconnected.Add(1, NameTag, new KeyValuePair<string, object?>("rpc.group.drop_reason", reason));
    }
}
