using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

// Shared by the group tests, tests/TestHost (whose subscriber mode serves RecordingMember from another process) and the soak.
namespace Rpc.Tests.Groups;

/// <summary>What group members serve in these tests.</summary>
[RpcContract]
public interface IGroupMember
{
    void OnTick(long sequence, string payload);

    Task<int> GetIdAsync();

    Task FailAsync(string message);

    /// <summary>Never completes: the caller sees its connection's loss.</summary>
    Task HangAsync();

    /// <summary>Waits until at least <paramref name="count"/> ticks have arrived, then returns every tick, in arrival order.</summary>
    Task<long[]> WaitForTicksAsync(int count, CancellationToken cancellationToken = default);
}

/// <summary>A publisher that subscribers call to join or leave topics; they serve <see cref="IGroupMember"/> back.</summary>
[RpcContract]
public interface IFeed
{
    Task SubscribeAsync(string topic);

    Task UnsubscribeAsync(string topic);
}

/// <summary>Records every tick in arrival order.</summary>
public sealed class RecordingMember(int id = 0) : IGroupMember
{
    private readonly List<long> _ticks = [];

    public int Count
    {
        get
        {
            lock (_ticks)
            {
                return _ticks.Count;
            }
        }
    }

    public long[] Ticks
    {
        get
        {
            lock (_ticks)
            {
                return [.. _ticks];
            }
        }
    }

    public void OnTick(long sequence, string payload)
    {
        lock (_ticks)
        {
            _ticks.Add(sequence);
        }
    }

    public Task<int> GetIdAsync() => Task.FromResult(id);

    public Task FailAsync(string message) => throw new InvalidOperationException(message);

    public Task HangAsync() => new TaskCompletionSource().Task;

    public async Task<long[]> WaitForTicksAsync(int count, CancellationToken cancellationToken = default)
    {
        await WaitForCountAsync(count, cancellationToken);
        return Ticks;
    }

    public async Task WaitForCountAsync(int count, CancellationToken cancellationToken)
    {
        while (Count < count)
        {
            await Task.Delay(5, cancellationToken);
        }
    }
}

/// <summary>
/// The publisher's side of <see cref="IFeed"/>, one per connection (a per-connection service factory), so it knows whom
/// to subscribe: each topic is a group, made on its first subscription unless the test put one there first.
/// </summary>
public sealed class TopicFeed(RpcConnection connection, ConcurrentDictionary<string, RpcGroup<IGroupMember>> topics) : IFeed
{
    public Task SubscribeAsync(string topic)
    {
        topics.GetOrAdd(topic, static name => new RpcGroup<IGroupMember>(new RpcGroupOptions { Name = name })).Add(connection);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(string topic)
    {
        if (topics.TryGetValue(topic, out var group))
        {
            group.Remove(connection);
        }

        return Task.CompletedTask;
    }
}

/// <summary>What a test calls on a publisher in another process (tests/TestHost) to broadcast to a topic and watch its members.</summary>
[RpcContract]
public interface IFeedControl
{
    /// <summary>Sends <see cref="IGroupMember.OnTick"/> to every member of <paramref name="topic"/>; returns how many there were.</summary>
    Task<int> PublishAsync(string topic, long sequence);

    Task<int> MemberCountAsync(string topic);
}

/// <summary>The publisher's side of <see cref="IFeedControl"/>, over the topics its <see cref="TopicFeed"/>s fill.</summary>
public sealed class TopicControl(ConcurrentDictionary<string, RpcGroup<IGroupMember>> topics) : IFeedControl
{
    public Task<int> PublishAsync(string topic, long sequence)
    {
        if (!topics.TryGetValue(topic, out var group))
        {
            return Task.FromResult(0);
        }

        group.All.OnTick(sequence, topic);
        return Task.FromResult(group.Count);
    }

    public Task<int> MemberCountAsync(string topic) => Task.FromResult(topics.TryGetValue(topic, out var group) ? group.Count : 0);
}
