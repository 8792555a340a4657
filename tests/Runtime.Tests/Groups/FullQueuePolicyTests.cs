using System;
using System.Diagnostics;
using System.Threading.Tasks;

namespace Rpc.Tests.Groups;

/// <summary>
/// A member whose peer never reads (its connection's pipe and backlog fill, then its group queue) next to a member
/// that keeps up: the policy applies to the stuck one only, and the other still gets everything in order.
/// </summary>
public sealed class FullQueuePolicyTests : TestBase
{
    private const int Capacity = 16;

    // 16 KiB messages fill the stuck member's in-memory pipe and its connection's 4 MiB backlog in a few hundred.
    private const int Messages = 600;
    private static readonly string Payload = new('p', 16 * 1024);

    [Fact]
    public async Task DropOldestCountsEveryDropAndTheMemberKeepsTheNewestInOrder()
    {
        var name = $"drop-oldest-{Guid.NewGuid():N}";
        using var meter = new GroupMeterRecorder(name);
        await using var fast = MemberPair.Create(1);
        await using var stuck = MemberPair.Create(2, startMember: false);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions { Name = name, MemberQueueCapacity = Capacity });
        group.Add(fast.PublisherSide);
        group.Add(stuck.PublisherSide);

        await PublishAsync(group, fast);
        await fast.Member.WaitForCountAsync(Messages, TimeoutToken);
        GroupAssert.All(fast.Member.Ticks, Messages);

        RpcGroupMemberStatistics stats = default;
        await WaitUntilAsync(
            () => group.TryGetStatistics(stuck.PublisherSide, out stats) && stats.MessagesSent + stats.MessagesDropped + stats.QueueDepth == Messages);
        Assert.InRange(stats.QueueDepth, 0, Capacity);
        Assert.True(stats.MessagesDropped > 0, "the stuck member's queue never overflowed");
        Assert.Equal(stats.MessagesDropped, group.MessagesDropped);
        Assert.Equal(2, meter.Observe("rpc.group.members"));
        Assert.InRange(meter.Observe("rpc.group.queue.depth.max"), 0, Capacity);
        Assert.Equal(group.MessagesDropped, meter.Sum("rpc.group.messages.dropped", "drop_oldest"));

        // Once it reads again it gets what was not dropped, newest included, in order: gaps, never reordering.
        stuck.MemberSide.Start();
        await WaitUntilAsync(
            () => group.TryGetStatistics(stuck.PublisherSide, out stats) && stats.MessagesSent + stats.MessagesDropped == Messages);
        await stuck.Member.WaitForCountAsync((int)stats.MessagesSent, TimeoutToken);
        var ticks = stuck.Member.Ticks;
        GroupAssert.InOrder(ticks);
        Assert.Equal(Messages, ticks.Length + stats.MessagesDropped);
        Assert.Equal(Messages - 1, ticks[^1]);
        Assert.Equal(2L * Messages - stats.MessagesDropped, meter.Sum("rpc.group.messages.sent"));
        Assert.Equal(0, meter.Observe("rpc.group.queue.depth"));
    }

    [Fact]
    public async Task DisconnectRemovesTheMemberAndClosesItsConnection()
    {
        var name = $"disconnect-{Guid.NewGuid():N}";
        using var meter = new GroupMeterRecorder(name);
        await using var fast = MemberPair.Create(1);
        await using var stuck = MemberPair.Create(2, startMember: false);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
        {
            Name = name,
            MemberQueueCapacity = Capacity,
            FullQueuePolicy = RpcFullQueuePolicy.Disconnect,
        });
        group.Add(fast.PublisherSide);
        group.Add(stuck.PublisherSide);

        await PublishAsync(group, fast);
        await fast.Member.WaitForCountAsync(Messages, TimeoutToken);
        GroupAssert.All(fast.Member.Ticks, Messages);

        Assert.False(stuck.PublisherSide.IsConnected);
        Assert.Contains("RpcFullQueuePolicy.Disconnect", stuck.PublisherSide.CloseReason?.Message);
        Assert.Equal(1, group.Count);
        Assert.Equal(1, group.MembersDisconnected);
        Assert.Equal(1, meter.Sum("rpc.group.members.disconnected", "disconnect"));
        // The message that did not fit and the full queue, counted as disconnect; but the member's sender may have
        // taken a batch off the queue just before, which its aborted connection then loses and counts as member_left
        // (on the sender's thread, so eventually).
        await WaitUntilAsync(
            () => meter.Sum("rpc.group.messages.dropped", "disconnect") + meter.Sum("rpc.group.messages.dropped", "member_left") > Capacity);
        Assert.True(meter.Sum("rpc.group.messages.dropped", "disconnect") >= 1);
        await WaitUntilAsync(() => group.MessagesDropped == meter.Sum("rpc.group.messages.dropped"));
        Assert.Equal(1, meter.Observe("rpc.group.members"));
    }

    [Fact]
    public async Task WaitDisconnectsAMemberThatStaysFullPastTheTimeout()
    {
        var name = $"wait-timeout-{Guid.NewGuid():N}";
        using var meter = new GroupMeterRecorder(name);
        await using var fast = MemberPair.Create(1);
        await using var stuck = MemberPair.Create(2, startMember: false);
        var timeout = TimeSpan.FromMilliseconds(200);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
        {
            Name = name,
            MemberQueueCapacity = Capacity,
            FullQueuePolicy = RpcFullQueuePolicy.Wait,
            FullQueueWaitTimeout = timeout,
        });
        group.Add(fast.PublisherSide);
        group.Add(stuck.PublisherSide);

        var elapsed = Stopwatch.StartNew();
        await PublishAsync(group, fast);
        elapsed.Stop();
        await fast.Member.WaitForCountAsync(Messages, TimeoutToken);
        GroupAssert.All(fast.Member.Ticks, Messages);

        Assert.True(elapsed.Elapsed >= timeout * 0.9, $"publishing took {elapsed.Elapsed}, less than the wait timeout");
        Assert.False(stuck.PublisherSide.IsConnected);
        Assert.Contains("RpcFullQueuePolicy.Wait", stuck.PublisherSide.CloseReason?.Message);
        Assert.Equal(1, group.MembersDisconnected);
        Assert.Equal(1, meter.Sum("rpc.group.members.disconnected", "wait_timeout"));
        Assert.True(meter.Sum("rpc.group.messages.dropped", "wait_timeout") > Capacity);
        Assert.Equal(group.MessagesDropped, meter.Sum("rpc.group.messages.dropped"));
    }

    [Fact]
    public async Task WaitDeliversEverythingToAMemberThatCatchesUpInTime()
    {
        var name = $"wait-{Guid.NewGuid():N}";
        using var meter = new GroupMeterRecorder(name);
        await using var fast = MemberPair.Create(1);
        await using var slow = MemberPair.Create(2, startMember: false);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
        {
            Name = name,
            MemberQueueCapacity = Capacity,
            FullQueuePolicy = RpcFullQueuePolicy.Wait,
            FullQueueWaitTimeout = Timeout,
        });
        group.Add(fast.PublisherSide);
        group.Add(slow.PublisherSide);

        // The slow member starts reading only once its queue is full, so the publisher really waits for it.
        var wake = Task.Run(
            async () =>
            {
                await WaitUntilAsync(() => group.TryGetStatistics(slow.PublisherSide, out var stats) && stats.QueueDepth == Capacity);
                slow.MemberSide.Start();
            },
            TimeoutToken);
        await PublishAsync(group, fast);
        await wake;
        await fast.Member.WaitForCountAsync(Messages, TimeoutToken);
        await slow.Member.WaitForCountAsync(Messages, TimeoutToken);
        GroupAssert.All(fast.Member.Ticks, Messages);
        GroupAssert.All(slow.Member.Ticks, Messages);
        Assert.Equal(0, group.MessagesDropped);
        Assert.Equal(0, meter.Sum("rpc.group.messages.dropped"));
        Assert.Equal(2L * Messages, meter.Sum("rpc.group.messages.sent"));
    }

    /// <summary>Publishes on a worker thread (the Wait policy blocks it), paced so the member that keeps up never overflows.</summary>
    private Task PublishAsync(RpcGroup<IGroupMember> group, MemberPair fast) =>
        Task.Run(
            async () =>
            {
                for (var i = 0; i < Messages; i++)
                {
                    await WaitUntilAsync(() => !group.TryGetStatistics(fast.PublisherSide, out var stats) || stats.QueueDepth <= Capacity / 2);
                    group.All.OnTick(i, Payload);
                }
            },
            TimeoutToken);
}
