using System.Threading.Tasks;
using Rpc;

namespace Ticker;

/// <summary>One quote. <see cref="Sequence"/> lets a subscriber check it saw every price, in order.</summary>
public sealed record Price(string Symbol, long Sequence, decimal Bid, decimal Ask);

/// <summary>What the publisher serves: subscribers join and leave topics.</summary>
[RpcContract]
public interface ITicker
{
    /// <summary>Adds the calling connection to the topic's group.</summary>
    Task SubscribeAsync(string topic);

    /// <summary>Removes the calling connection from the topic's group.</summary>
    Task UnsubscribeAsync(string topic);
}

/// <summary>The callback contract each subscriber serves on its own connection; the publisher broadcasts through it.</summary>
[RpcContract]
public interface ITickerSubscriber
{
    void OnPrice(Price price);

    /// <summary>The publisher is done with the topic; <paramref name="count"/> prices were published.</summary>
    void OnEnd(string topic, long count);
}
