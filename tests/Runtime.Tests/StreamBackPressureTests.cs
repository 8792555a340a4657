using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests;

[RpcContract]
public interface IStreamProbe
{
    IAsyncEnumerable<int> ProduceAsync(int count, CancellationToken cancellationToken = default);

    Task PingAsync();
}

/// <summary>A slow consumer slows the producer: the server never runs more than one window ahead.</summary>
public sealed class StreamBackPressureTests : TestBase
{
    [Theory]
    [InlineData("Binary")]
    public async Task The_producer_runs_at_most_one_window_ahead_of_a_slow_consumer(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        const int Window = 16;
        var producer = new CountingProducer();
        var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, new RpcConnectionOptions { Protocol = protocol }).AddService<IStreamProbe>(producer);
        server.Start();
        await using var client = RpcConnection.Create(clientPipe, new RpcConnectionOptions { Protocol = protocol, StreamWindow = Window });
        client.Start();

        var consumed = 0;
        var proxy = client.CreateProxy<IStreamProbe>();
        await foreach (var item in proxy.ProduceAsync(1_000_000, TimeoutToken))
        {
            Assert.Equal(consumed, item);
            if (++consumed == 5)
            {
                // Stall here. A call made now reaches the server after every credit granted so far; once it is answered,
                // no more credit is on its way, and once the server's stream waits for credit, the producer has run as
                // far ahead as it ever will.
                await proxy.PingAsync().WaitAsync(TimeoutToken);
                await WaitUntilAsync(() => ((Rpc.Protocols.Binary.BinaryProtocolConnection)server.Protocol).StreamsWaitingForCredit == 1);
                Assert.InRange(producer.Produced, 5, 5 + Window + 1);
            }

            if (consumed == 200)
            {
                break;
            }
        }

        Assert.InRange(producer.Produced, 200, 200 + Window + 1);
    }

    private sealed class CountingProducer : IStreamProbe
    {
        private int _produced;

        public int Produced => Volatile.Read(ref _produced);

        public async IAsyncEnumerable<int> ProduceAsync(int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Interlocked.Increment(ref _produced);
                yield return i;
                await Task.Yield();
            }
        }

        public Task PingAsync() => Task.CompletedTask;
    }
}
