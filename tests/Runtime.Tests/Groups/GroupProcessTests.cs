using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Groups;

/// <summary>
/// Pub/sub across processes, over every transport and with members that are child processes: subscriber processes
/// (tests/TestHost <c>--subscribe</c>) serve <see cref="IGroupMember"/> on their connection to a publisher in the test
/// process and join its topic through <see cref="IFeed"/>; the publisher broadcasts to the topic's group and asks each
/// member, through the group, what it received.
/// </summary>
public sealed class GroupProcessTests : TestBase
{
    private const int Subscribers = 3;
    private const int Messages = 1_000;
    private const string Topic = "ticks";

    [Theory]
    [MemberData(nameof(TestEndpoints.TransportsAndChildProcess), MemberType = typeof(TestEndpoints))]
    public async Task Subscriber_processes_get_every_message_in_order_and_a_killed_one_leaves(string transport)
    {
        // Every message to every member: the publisher waits for room rather than drop (the queues never fill here).
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
        {
            Name = $"processes-{Guid.NewGuid():N}",
            FullQueuePolicy = RpcFullQueuePolicy.Wait,
            FullQueueWaitTimeout = Timeout,
        });
        var topics = new ConcurrentDictionary<string, RpcGroup<IGroupMember>> { [Topic] = group };
        await using var server = transport == TestEndpoints.ChildProcess
            ? null
            : new RpcServer(TestEndpoints.ServerOptions(transport)).AddService<IFeed>(connection => new TopicFeed(connection, topics));
        var endpoint = server is null ? null : await server.ListenAsync(TestEndpoints.Create(transport), TimeoutToken);
        var subscribers = new List<Subscriber>();
        try
        {
            var starts = Enumerable.Range(0, Subscribers).Select(_ => StartSubscriberAsync(endpoint, transport, topics)).ToList();
            try
            {
                await Task.WhenAll(starts);
            }
            finally
            {
                subscribers.AddRange(starts.Where(start => start.IsCompletedSuccessfully).Select(start => start.Result));
            }

            // Each subscriber process joined through IFeed; a call with a result gathers one per member, its process id.
            await WaitUntilAsync(() => group.Count == Subscribers);
            await AssertMembersAsync(group, subscribers);
            Publish(group, 0, Messages);
            await AssertEveryMemberGotAsync(group, Messages, Subscribers);

            // A subscriber killed with SIGKILL leaves the group; the others keep receiving, in order.
            var killed = subscribers[0];
            killed.Kill();
            await WaitUntilAsync(() => group.Count == Subscribers - 1);
            await AssertMembersAsync(group, subscribers.Skip(1));
            Publish(group, Messages, 2 * Messages);
            await AssertEveryMemberGotAsync(group, 2 * Messages, Subscribers - 1);
            Assert.Equal(0, group.MessagesDropped);
        }
        finally
        {
            foreach (var subscriber in subscribers)
            {
                await subscriber.DisposeAsync();
            }
        }
    }

    private static void Publish(RpcGroup<IGroupMember> group, int from, int to)
    {
        var payload = new string('x', 64);
        for (var i = from; i < to; i++)
        {
            group.All.OnTick(i, payload);
        }
    }

    private async Task AssertMembersAsync(RpcGroup<IGroupMember> group, IEnumerable<Subscriber> expected)
    {
        var ids = await group.InvokeAsync(member => member.GetIdAsync()).WaitAsync(TimeoutToken);
        Assert.All(ids, id => Assert.True(id.IsSuccess, id.ToString()));
        Assert.Equal(expected.Select(s => s.ProcessId).Order(), ids.Select(id => id.Value).Order());
    }

    /// <summary>Asks every member, through the group, for its ticks once it has <paramref name="count"/>: 0..count-1, in order.</summary>
    private async Task AssertEveryMemberGotAsync(RpcGroup<IGroupMember> group, int count, int members)
    {
        var received = await group.InvokeAsync(member => member.WaitForTicksAsync(count, TimeoutToken)).WaitAsync(TimeoutToken);
        Assert.Equal(members, received.Count);
        foreach (var ticks in received)
        {
            Assert.True(ticks.IsSuccess, ticks.ToString());
            GroupAssert.All(ticks.Value!, count);
        }
    }

    /// <summary>
    /// Starts a subscriber: a test host process connected to <paramref name="endpoint"/>, or, for
    /// <see cref="TestEndpoints.ChildProcess"/>, a test host started as a child of this process that subscribes through
    /// the <see cref="IFeed"/> this process serves it.
    /// </summary>
    private async Task<Subscriber> StartSubscriberAsync(string? endpoint, string transport, ConcurrentDictionary<string, RpcGroup<IGroupMember>> topics)
    {
        if (endpoint is not null)
        {
            var process = await ServerProcess.StartSubscriberAsync(endpoint, Topic, TestEndpoints.ClientHostArguments(transport), TimeoutToken);
            return new Subscriber(process.ProcessId, process.Kill, process);
        }

        var child = await RpcChildProcess.StartAsync(
            new RpcChildProcessOptions { FileName = "dotnet", Arguments = { ServerProcess.HostPath, "--subscribe", "parent", "--topic", Topic } },
            connection => connection.AddService<IFeed>(new TopicFeed(connection, topics)),
            TimeoutToken);
        return new Subscriber(child.ProcessId, child.Kill, child);
    }

    /// <summary>A subscriber process, whichever way it was started: disposing it stops it (kills it at worst).</summary>
    private sealed class Subscriber(int processId, Action kill, IAsyncDisposable process) : IAsyncDisposable
    {
        public int ProcessId => processId;

        /// <summary>SIGKILL, as a crash would.</summary>
        public void Kill() => kill();

        public ValueTask DisposeAsync() => process.DisposeAsync();
    }
}
