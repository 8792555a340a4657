using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

namespace Rpc.Tests.WorkQueues;

/// <summary>
/// A producer on a real Unix socket floods a hub whose queue is full. Its calls come from a raw proxy, which bounds
/// nothing itself: only the hub's pause of the producer's connection keeps them out of the hub's memory.
/// </summary>
public sealed class ProducerBackPressureTests : TestBase
{
    private const int Capacity = 4;
    private const int Calls = 2_000;

    [Theory]
    [InlineData("Binary", false)]
    [InlineData("Binary", true)]
    [InlineData("JsonRpc", false)]
    [InlineData("JsonRpc", true)]
    public async Task A_full_queue_stops_reading_the_producer_instead_of_holding_its_calls(string protocolName, bool notifications)
    {
        var protocol = TestProtocols.Named(protocolName);
        var connectionOptions = new RpcConnectionOptions { Protocol = protocol };
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions
        {
            Name = $"backpressure-{Guid.NewGuid():N}",
            QueueCapacity = Capacity,
            Server = new RpcServerOptions { Protocols = [protocol], Connection = connectionOptions },
        });
        await using var worker = GatedJobs.Attach(hub, 1);
        var socket = Path.Combine(Path.GetTempPath(), $"rpc-bp-{Guid.NewGuid():N}.sock");
        var endpoint = await hub.ListenForProducersAsync($"unix://{socket}", TimeoutToken);
        await using var producer = await RpcConnection.ConnectAsync(endpoint, connectionOptions, TimeoutToken);
        var proxy = producer.CreateProxy<IJobs>();

        // One call holds the worker's only slot, so everything after it queues.
        var blocker = proxy.RunAsync(-1, 0, TimeoutToken);
        await WaitUntilAsync(() => worker.Running == 1);
        var calls = Enumerable.Range(0, Calls).Select(id =>
        {
            if (!notifications)
            {
                return (Task)proxy.RunAsync(id, 0, TimeoutToken);
            }

            proxy.Touch(id);
            return Task.CompletedTask;
        }).ToList();

        // The call waiting for room has paused the producer's connection: from then on the rest of the flood stays
        // unread in the transport, and nothing here can change until the worker makes room.
        var hubSide = Assert.Single(hub.ProducerServer.Connections);
        await WaitUntilAsync(() => hub.QueueLength == Capacity && hub.WaitingForRoom == 1 && hubSide.Protocol.IsReadingPaused);
        Assert.Equal(Capacity, hub.QueueLength);
        Assert.Equal(1, hub.WaitingForRoom);
        Assert.Equal(1, hub.InFlight);
        Assert.All(calls, call => Assert.False(call.IsCompleted && !notifications));

        worker.Open = true;
        worker.Release(-1);
        await blocker.WaitAsync(TimeoutToken);
        await Task.WhenAll(calls).WaitAsync(TimeoutToken);
        await WaitUntilAsync(() => worker.Started.Count == Calls + 1);

        // Nothing lost, nothing run twice, and one connection's calls reach the worker in the order they were sent.
        Assert.Equal([-1, .. Enumerable.Range(0, Calls)], worker.Started);
        Assert.Equal(0, hub.QueueLength + hub.WaitingForRoom);
    }

    [Fact]
    public async Task A_paused_producer_cancels_at_once_and_the_hub_catches_up_when_reading_resumes()
    {
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"backpressure-{Guid.NewGuid():N}", QueueCapacity = 1 });
        var endpoint = await hub.ListenForProducersAsync($"unix://{Path.Combine(Path.GetTempPath(), $"rpc-bp-{Guid.NewGuid():N}.sock")}", TimeoutToken);
        await using var producer = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var proxy = producer.CreateProxy<IJobs>();

        // No worker: one call queues, one waits for room (and pauses the connection), the third stays unread.
        using var cancellation = System.Threading.CancellationTokenSource.CreateLinkedTokenSource(TimeoutToken);
        var calls = Enumerable.Range(0, 3).Select(id => proxy.RunAsync(id, 0, cancellation.Token)).ToList();
        await WaitUntilAsync(() => hub.QueueLength == 1 && hub.WaitingForRoom == 1);

        // The producer's own tasks end at once, although the hub cannot read the cancellations yet.
        await cancellation.CancelAsync();
        foreach (var call in calls)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeoutToken);
        }

        Assert.Equal(1, hub.WaitingForRoom);

        // A worker makes room: reading resumes, the cancellations are read, the hub drains, and the connection serves again.
        await using var worker = GatedJobs.Attach(hub, 1, open: true);
        var next = await proxy.RunAsync(7, 0, TimeoutToken).WaitAsync(TimeoutToken);
        Assert.Equal(7, next.Id);
        await WaitUntilAsync(() => hub.QueueLength + hub.WaitingForRoom + hub.InFlight == 0);
        Assert.Equal(7, worker.Started.Last());
    }
}
