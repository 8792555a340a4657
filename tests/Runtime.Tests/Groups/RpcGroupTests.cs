using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Groups;

public sealed class RpcGroupTests : TestBase
{
    [Fact]
    public async Task AllExceptOnlyAndWhereReachTheSelectedMembers()
    {
        await using var a = MemberPair.Create(1);
        await using var b = MemberPair.Create(2);
        await using var c = MemberPair.Create(3);
        using var group = new RpcGroup<IGroupMember>();
        Assert.True(group.Add(a.PublisherSide));
        Assert.True(group.Add(b.PublisherSide));
        Assert.True(group.Add(c.PublisherSide));
        Assert.False(group.Add(a.PublisherSide));
        Assert.Equal(3, group.Count);

        group.All.OnTick(0, "all");
        group.Except(a.PublisherSide).OnTick(1, "not a");
        group.Only(b.PublisherSide).OnTick(2, "b only");
        group.Where(connection => connection == c.PublisherSide).OnTick(3, "c by predicate");
        group.All.OnTick(4, "all again");

        await a.Member.WaitForCountAsync(2, TimeoutToken);
        await b.Member.WaitForCountAsync(4, TimeoutToken);
        await c.Member.WaitForCountAsync(4, TimeoutToken);
        Assert.Equal([0, 4], a.Member.Ticks);
        Assert.Equal([0, 1, 2, 4], b.Member.Ticks);
        Assert.Equal([0, 1, 3, 4], c.Member.Ticks);
    }

    [Fact]
    public async Task InvokeAsyncGathersEveryMembersResultOrError()
    {
        await using var a = MemberPair.Create(1);
        await using var b = MemberPair.Create(2);
        await using var dying = MemberPair.Create(3);
        using var group = new RpcGroup<IGroupMember>();
        group.Add(a.PublisherSide);
        group.Add(b.PublisherSide);
        group.Add(dying.PublisherSide);

        var ids = await group.InvokeAsync(p => p.GetIdAsync()).WaitAsync(TimeoutToken);
        Assert.Equal([1, 2, 3], ids.Select(r => r.Value));
        Assert.All(ids, r => Assert.True(r.IsSuccess));
        Assert.Equal(b.PublisherSide, ids[1].Connection);

        var onlyB = await group.InvokeAsync(p => p.GetIdAsync(), where: c => c == b.PublisherSide).WaitAsync(TimeoutToken);
        Assert.Equal(2, Assert.Single(onlyB).Value);

        var failures = await group.InvokeAsync(p => p.FailAsync("boom")).WaitAsync(TimeoutToken);
        Assert.Equal(3, failures.Count);
        Assert.All(failures, r => Assert.Contains("boom", Assert.IsType<RemoteInvocationException>(r.Exception).Message));

        // One member dies mid-call: its entry reports the loss; the others still answer.
        var hanging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mixed = group.InvokeAsync(async p =>
        {
            var id = await p.GetIdAsync();
            if (id == 3)
            {
                var hang = p.HangAsync();
                hanging.SetResult();
                await hang;
            }

            return id;
        });

        // Its GetId has been answered and its Hang sent: once the member runs a call, it is the Hang.
        await hanging.Task.WaitAsync(TimeoutToken);
        await WaitUntilAsync(() => dying.MemberSide.Protocol.IncomingCallsInFlight == 1);
        await dying.MemberSide.DisposeAsync();
        var results = await mixed.WaitAsync(TimeoutToken);
        Assert.True(results[0].IsSuccess);
        Assert.True(results[1].IsSuccess);
        Assert.IsType<ConnectionLostException>(results[2].Exception);
    }

    [Fact]
    public async Task MethodsWithRepliesOnTheGroupProxyPointToInvokeAsync()
    {
        using var group = new RpcGroup<IGroupMember>();
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => group.All.GetIdAsync());
        Assert.Contains("InvokeAsync", error.Message);
    }

    [Fact]
    public async Task DeadMembersLeaveAndRemovedMembersGetNothingMore()
    {
        await using var a = MemberPair.Create(1);
        await using var b = MemberPair.Create(2);
        using var group = new RpcGroup<IGroupMember>();
        group.Add(a.PublisherSide);
        group.Add(b.PublisherSide);

        await b.MemberSide.DisposeAsync();
        await WaitUntilAsync(() => group.Count == 1);
        Assert.False(group.Contains(b.PublisherSide));
        Assert.False(group.Add(b.PublisherSide));
        group.All.OnTick(0, "after b died");
        await a.Member.WaitForCountAsync(1, TimeoutToken);

        Assert.True(group.Remove(a.PublisherSide));
        Assert.False(group.Remove(a.PublisherSide));
        group.All.OnTick(1, "nobody");
        Assert.Equal(0, group.Count);

        // Tick 1 was sent to a group with no members. A sentinel sent straight to the removed member afterwards is the
        // signal: once it arrived, a's connection delivered everything written to it before, and tick 1 is not there.
        a.PublisherSide.CreateProxy<IGroupMember>().OnTick(2, "sentinel");
        await a.Member.WaitForCountAsync(2, TimeoutToken);
        Assert.Equal([0, 2], a.Member.Ticks);
    }

    [Fact]
    public async Task EachMemberReceivesEveryMessageInOrderOverUnixSockets()
    {
        const int Members = 4;
        const int Messages = 5_000;
        var endpoint = TestEndpoints.Create("unix");
        var accepted = new ConcurrentQueue<RpcConnection>();
        await using var server = new RpcServer();
        server.ConnectionAccepted += accepted.Enqueue;
        await server.ListenAsync(endpoint, TimeoutToken);

        var members = new List<RecordingMember>();
        var clients = new List<RpcConnection>();
        try
        {
            for (var i = 0; i < Members; i++)
            {
                var member = new RecordingMember(i);
                members.Add(member);
                clients.Add(await RpcConnection.ConnectAsync(endpoint, c => c.AddService<IGroupMember>(member), cancellationToken: TimeoutToken));
            }

            await WaitUntilAsync(() => accepted.Count == Members);
            using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions { FullQueuePolicy = RpcFullQueuePolicy.Wait, FullQueueWaitTimeout = Timeout });
            foreach (var connection in accepted)
            {
                group.Add(connection);
            }

            var payload = new string('x', 100);
            for (var i = 0; i < Messages; i++)
            {
                group.All.OnTick(i, payload);
            }

            foreach (var member in members)
            {
                await member.WaitForCountAsync(Messages, TimeoutToken);
                GroupAssert.All(member.Ticks, Messages);
            }

            Assert.Equal(0, group.MessagesDropped);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task JsonRpcMembersFallBackToPerMemberNotifications()
    {
        await using var json = MemberPair.Create(1, protocol: RpcProtocol.JsonRpc);
        await using var binary = MemberPair.Create(2);
        using var group = new RpcGroup<IGroupMember>();
        group.Add(json.PublisherSide);
        group.Add(binary.PublisherSide);
        for (var i = 0; i < 100; i++)
        {
            group.All.OnTick(i, "mixed");
        }

        await json.Member.WaitForCountAsync(100, TimeoutToken);
        await binary.Member.WaitForCountAsync(100, TimeoutToken);
        GroupAssert.All(json.Member.Ticks, 100);
        GroupAssert.All(binary.Member.Ticks, 100);
        var ids = await group.InvokeAsync(p => p.GetIdAsync()).WaitAsync(TimeoutToken);
        Assert.Equal([1, 2], ids.Select(r => r.Value));
    }

    [Fact]
    public async Task SubscribersJoinAndLeaveTopicsThroughAPerConnectionService()
    {
        var endpoint = TestEndpoints.Create("unix");
        var topics = new ConcurrentDictionary<string, RpcGroup<IGroupMember>>();
        await using var server = new RpcServer()
            .AddService<IFeed>(connection => new TopicFeed(connection, topics));
        await server.ListenAsync(endpoint, TimeoutToken);
        var first = new RecordingMember(1);
        var second = new RecordingMember(2);
        await using var one = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<IGroupMember>(first), cancellationToken: TimeoutToken);
        await using var two = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<IGroupMember>(second), cancellationToken: TimeoutToken);

        await one.CreateProxy<IFeed>().SubscribeAsync("prices");
        await two.CreateProxy<IFeed>().SubscribeAsync("prices");
        var prices = topics["prices"];
        Assert.Equal(2, prices.Count);
        prices.All.OnTick(0, "both");
        await first.WaitForCountAsync(1, TimeoutToken);
        await second.WaitForCountAsync(1, TimeoutToken);

        await two.CreateProxy<IFeed>().UnsubscribeAsync("prices");
        prices.All.OnTick(1, "first only");
        await first.WaitForCountAsync(2, TimeoutToken);

        await two.CreateProxy<IFeed>().SubscribeAsync("prices");
        await one.DisposeAsync();
        await WaitUntilAsync(() => prices.Count == 1);
        prices.All.OnTick(2, "second only");
        await second.WaitForCountAsync(2, TimeoutToken);
        Assert.Equal([0, 1], first.Ticks);
        Assert.Equal([0, 2], second.Ticks);
        foreach (var group in topics.Values)
        {
            group.Dispose();
        }
    }
}
