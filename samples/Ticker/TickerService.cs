using System.Collections.Concurrent;
using System.Threading.Tasks;
using Rpc;

namespace Ticker;

/// <summary>
/// The topics: one <see cref="RpcGroup{TContract}"/> per topic, made on first subscription. Subscribers that disconnect
/// leave their groups by themselves.
/// </summary>
public sealed class Topics
{
    private readonly ConcurrentDictionary<string, RpcGroup<ITickerSubscriber>> _groups = new();

    public RpcGroup<ITickerSubscriber> this[string topic] => _groups.GetOrAdd(topic, static name => new RpcGroup<ITickerSubscriber>(new RpcGroupOptions
    {
        Name = name,

        // The demo promises every subscriber every price: the publisher slows to the slowest subscriber's pace, and a
        // subscriber stuck for 5 s is disconnected. A live feed would rather keep the default, DropOldest.
        FullQueuePolicy = RpcFullQueuePolicy.Wait,
        FullQueueWaitTimeout = System.TimeSpan.FromSeconds(5),
    }));
}

/// <summary>One per connection (the server's per-connection factory), so it knows whom to subscribe.</summary>
public sealed class TickerService(RpcConnection connection, Topics topics) : ITicker
{
    public Task SubscribeAsync(string topic)
    {
        topics[topic].Add(connection);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(string topic)
    {
        topics[topic].Remove(connection);
        return Task.CompletedTask;
    }
}
