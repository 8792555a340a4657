using Rpc;

namespace Rpc.Benchmarks.Fanout;

/// <summary>What each benchmark subscriber serves; the publisher broadcasts through it.</summary>
[RpcContract]
public interface IFanoutSink
{
    /// <summary>One message: a sequence number, the publisher's <c>Stopwatch</c> timestamp, and the payload.</summary>
    void OnMessage(long sequence, long timestamp, byte[] payload);

    /// <summary>The run is over: <paramref name="published"/> messages were published.</summary>
    void OnEnd(long published);
}
