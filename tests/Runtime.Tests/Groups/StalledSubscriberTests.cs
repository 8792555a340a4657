using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Groups;

/// <summary>
/// 32 members, one of them a real process stopped with SIGSTOP: the other 31 receive everything in order, the stopped
/// one's queue and the publisher's memory stay bounded, and every message it misses is counted.
/// The 31 are in-process connections over Unix sockets (32 processes would swamp a 2-core machine); the stopped one is
/// the test host, which serves <see cref="ITestService"/> like the in-process members.
/// </summary>
public sealed class StalledSubscriberTests : TestBase
{
    private const int Capacity = 256;
    private const int Running = 31;
    private const int Messages = 2_000;
    private const int Burst = 40_000;

    [Fact]
    public async Task ThirtyOneMembersGetEverythingWhileTheStoppedOneStaysBounded()
    {
        var name = $"stalled-{Guid.NewGuid():N}";
        using var meter = new GroupMeterRecorder(name);
        await using var host = await ServerProcess.StartAsync([TestEndpoints.Create("unix")], cancellationToken: TimeoutToken);
        var endpoint = TestEndpoints.Create("unix");
        var services = new ConcurrentQueue<TestService>();
        await using var server = new RpcServer().AddService<ITestService>(_ =>
        {
            var service = new TestService();
            services.Enqueue(service);
            return service;
        });
        await server.ListenAsync(endpoint, TimeoutToken);

        var clients = new List<RpcConnection>();
        RpcConnection? stalled = null;
        var stopped = false;
        try
        {
            for (var i = 0; i < Running; i++)
            {
                clients.Add(await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken));
            }

            stalled = await RpcConnection.ConnectAsync(host.Endpoints[0], cancellationToken: TimeoutToken);

            // A call completes the hello both ways first: a peer stopped before its hello is another case (the connection
            // closes after HandshakeTimeout, and the member with it), not the stopped member this test is about.
            await stalled.CreateProxy<ITestService>().PingAsync();
            using var group = new RpcGroup<ITestService>(new RpcGroupOptions { Name = name, MemberQueueCapacity = Capacity });
            foreach (var client in clients)
            {
                group.Add(client);
            }

            group.Add(stalled);
            Assert.Equal(32, group.Count);
            host.Suspend();
            stopped = true;

            var payload = new string('m', 500);
            long maxDepth = 0;
            for (var i = 0; i < Messages; i++)
            {
                // The application paces itself on the members that keep up, so only the stopped one overflows.
                if (i % 32 == 0)
                {
                    await WaitUntilAsync(() => !clients.Any(c => group.TryGetStatistics(c, out var s) && s.QueueDepth > Capacity / 2));
                }

                group.All.Notify(Sequence(i, payload));
                maxDepth = Math.Max(maxDepth, meter.Observe("rpc.group.queue.depth.max"));
            }

            // Then a burst to the stopped member alone, far more than its queue and connection buffers hold: an
            // unbounded queue would keep ~40 MB here.
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var only = group.Only(stalled);
            var big = new string('b', 1000);
            for (var i = Messages; i < Messages + Burst; i++)
            {
                only.Notify(Sequence(i, big));
            }

            // Process-wide, so other test classes running in parallel add noise: the bound is half of what keeping the
            // burst's serialized frames (at least 1,000 bytes each) would cost.
            var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
            var keptBurst = (long)Burst * big.Length;
            Assert.True(growth < keptBurst / 2, $"memory grew by {growth} bytes while the stopped member was sent {Burst} messages (keeping them would take ~{keptBurst})");
            Assert.True(
                group.TryGetStatistics(stalled, out var stalledStats),
                $"the stopped member left the group ({group.MembersDisconnected} disconnected by policy); its connection " +
                (stalled.IsConnected ? "is open" : $"closed: {stalled.CloseReason}"));
            Assert.InRange(stalledStats.QueueDepth, 0, Capacity);
            Assert.InRange(maxDepth, 0, Capacity);
            Assert.True(stalledStats.MessagesDropped >= Burst / 2, $"only {stalledStats.MessagesDropped} drops were counted");

            Assert.Equal(Running, services.Count);
            foreach (var service in services)
            {
                await WaitUntilAsync(async () => (await service.GetNotificationsAsync()).Count == Messages);
                Assert.Equal(Enumerable.Range(0, Messages), (await service.GetNotificationsAsync()).Select(ParseSequence));
            }

            // Resumed, the stopped member gets what was not dropped, newest included, in order; every gap was counted.
            host.Resume();
            stopped = false;
            const int Total = Messages + Burst;
            await WaitUntilAsync(() => group.TryGetStatistics(stalled, out stalledStats) && stalledStats.MessagesSent + stalledStats.MessagesDropped == Total);
            var proxy = stalled.CreateProxy<ITestService>();
            IReadOnlyList<string> received = [];
            await WaitUntilAsync(async () => (received = await proxy.GetNotificationsAsync()).Count >= stalledStats.MessagesSent);

            var sequence = received.Select(ParseSequence).ToArray();
            GroupAssert.InOrder(sequence.Select(s => (long)s).ToArray());
            Assert.Equal(Total, sequence.Length + stalledStats.MessagesDropped);
            Assert.Equal(Total - 1, sequence[^1]);
            Assert.Equal(stalledStats.MessagesDropped, meter.Sum("rpc.group.messages.dropped", "drop_oldest"));
        }
        finally
        {
            if (stopped)
            {
                host.Resume();
            }

            if (stalled is not null)
            {
                await stalled.DisposeAsync();
            }

            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static string Sequence(int i, string payload) => i.ToString("D8", CultureInfo.InvariantCulture) + payload;

    private static int ParseSequence(string message) => int.Parse(message.AsSpan(0, 8), CultureInfo.InvariantCulture);
}
