using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Rpc.Diagnostics;
using Rpc.Protocols.Binary;
using Rpc.Tests.Conformance;
using Rpc.Tests.Groups;
using Rpc.Tests.WorkQueues;
using TestMeterFactory = Rpc.Tests.Diagnostics.TelemetryTests.TestMeterFactory;

namespace Rpc.Tests.Diagnostics;

/// <summary>
/// <c>rpc.connection.io</c> over real transports (an in-process server, so both sides' counts can be compared), and the
/// dispatch, group and work-queue instruments on an <see cref="System.Diagnostics.Metrics.IMeterFactory"/>'s meter. In
/// the telemetry collection, run alone: a listener of the shared meter sees every test's measurements.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsTests : TestBase
{
    private const string Io = "rpc.connection.io";

    public static TheoryData<string, string> ProtocolsAndTransports => TelemetryTests.ProtocolsAndTransports;

    [Theory]
    [MemberData(nameof(ProtocolsAndTransports))]
    public async Task The_bytes_one_side_sends_are_the_bytes_the_other_receives(string protocol, string transport)
    {
        using var serverMeters = new TestMeterFactory();
        using var clientMeters = new TestMeterFactory();
        using var serverIo = new MetricCollector<long>(serverMeters, "Rpc", Io);
        using var clientIo = new MetricCollector<long>(clientMeters, "Rpc", Io);
        var serverOptions = TestEndpoints.ServerOptions(transport);
        serverOptions.Connection.MeterFactory = serverMeters;
        await using var server = new RpcServer(serverOptions).AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
        var bound = await server.ListenAsync(TestEndpoints.Create(transport), TimeoutToken);
        var options = TestEndpoints.ClientOptions(transport);
        options.Protocol = protocol == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
        options.MeterFactory = clientMeters;

        // Larger than the shared-memory writer's buffer: part of the request is spilled into the ring before the flush.
        var payload = Enumerable.Repeat((byte)1, 100_000).ToArray();
        await using (var connection = await RpcConnection.ConnectAsync(bound, options, TimeoutToken))
        {
            Assert.Equal(payload.Length, await connection.CreateProxy<ITestService>().SumBytesAsync(payload).WaitAsync(TimeoutToken));

            // Each side counts a read once it has processed it, which may be after the caller resumed.
            await WaitUntilAsync(() =>
                Total(clientIo, "transmit") == Total(serverIo, "receive") && Total(serverIo, "transmit") == Total(clientIo, "receive"));
        }

        if (protocol == "binary")
        {
            // The hello, then [length][kind][id][method id] and the arguments: [array of 1][bin 32: 0xc6, u32 length][payload].
            Assert.Equal(ProtocolHello.Size + FrameHeader.RequestSize + 1 + 5 + payload.Length, Total(clientIo, "transmit"));
        }
        else
        {
            // Base64 in JSON, plus the header and the request object.
            Assert.InRange(Total(clientIo, "transmit"), payload.Length * 4 / 3, payload.Length * 2);
        }

        Assert.InRange(Total(clientIo, "receive"), 1, 1024);
        var client = clientIo.GetMeasurementSnapshot()[0];
        Assert.Equal(protocol == "json" ? "jsonrpc" : "rpc-dotnet", client.Tags["rpc.system"]);
        Assert.Equal(transport, client.Tags["network.transport"]);
        Assert.True(client.Tags.ContainsKey("server.address"));
        Assert.All(serverIo.GetMeasurementSnapshot(), m => Assert.False(m.Tags.ContainsKey("server.address")));
    }

    [Fact]
    public async Task Nothing_is_counted_while_nobody_listens()
    {
        using var meters = new TestMeterFactory();
        await using var server = new RpcServer().AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
        var bound = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(bound, new RpcConnectionOptions { MeterFactory = meters }, TimeoutToken);
        var service = connection.CreateProxy<ITestService>();
        var payload = new byte[1000];
        Assert.Equal(0, await service.SumBytesAsync(payload).WaitAsync(TimeoutToken));
        Assert.False(RpcTelemetry.For(meters).ConnectionIo.Enabled);

        // Counted from the moment a listener enables the counter: the request alone, not the hello or the earlier call.
        using var io = new MetricCollector<long>(meters, "Rpc", Io);
        Assert.Equal(0, await service.SumBytesAsync(payload).WaitAsync(TimeoutToken));
        await WaitUntilAsync(() => Total(io, "receive") > 0);
        Assert.Equal(FrameHeader.RequestSize + 1 + 3 + payload.Length, Total(io, "transmit"));
    }

    [Fact]
    public async Task Dispatch_group_and_work_queue_instruments_are_on_the_factory_meter_and_not_on_the_shared_one()
    {
        using var meters = new TestMeterFactory();
        var name = $"meters-{Guid.NewGuid():N}";
        using var started = new MetricCollector<long>(meters, "Rpc", "rpc.dispatch.calls.started");
        using var depth = new MetricCollector<int>(meters, "Rpc", "rpc.dispatch.queue.depth");
        using var sent = new MetricCollector<long>(meters, "Rpc", "rpc.group.messages.sent");
        using var members = new MetricCollector<long>(meters, "Rpc", "rpc.group.members");
        using var queued = new MetricCollector<long>(meters, "Rpc", "rpc.work_queue.queued");
        using var completed = new MetricCollector<long>(meters, "Rpc", "rpc.work_queue.completed");
        using var sharedStarted = new MetricCollector<long>(RpcTelemetry.SharedMeter, "rpc.dispatch.calls.started");
        using var sharedSent = new MetricCollector<long>(RpcTelemetry.SharedMeter, "rpc.group.messages.sent");
        using var sharedQueued = new MetricCollector<long>(RpcTelemetry.SharedMeter, "rpc.work_queue.queued");

        await using (var dispatcher = new RpcDispatcher(new RpcDispatcherOptions { Name = name, MeterFactory = meters }))
        {
            await using var server = new RpcServer(new RpcServerOptions { Connection = { Dispatcher = dispatcher } })
                .AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
            var bound = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
            await using var connection = await RpcConnection.ConnectAsync(bound, cancellationToken: TimeoutToken);
            var service = connection.CreateProxy<ITestService>();
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(i + 1, await service.AddAsync(i, 1).WaitAsync(TimeoutToken));
            }

            Assert.Equal(3, Sum(started, "rpc.dispatcher", name));
            depth.RecordObservableInstruments();
            Assert.Equal(0, Assert.Single(depth.GetMeasurementSnapshot(), m => Tagged(m, "rpc.dispatcher", name)).Value);
        }

        using (var group = new RpcGroup<IGroupMember>(new RpcGroupOptions { Name = name, MeterFactory = meters }))
        {
            await using var member = MemberPair.Create(1);
            group.Add(member.PublisherSide);
            group.All.OnTick(1, "tick");
            await member.Member.WaitForCountAsync(1, TimeoutToken);
            await WaitUntilAsync(() => Sum(sent, "rpc.group.name", name) == 1);
            members.RecordObservableInstruments();
            Assert.Equal(1, Assert.Single(members.GetMeasurementSnapshot(), m => Tagged(m, "rpc.group.name", name)).Value);
        }

        await using (var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = name, Server = { Connection = { MeterFactory = meters } } }))
        {
            await using var worker = GatedJobs.Attach(hub, workerId: 1, open: true);
            Assert.Equal(1, (await hub.Proxy.RunAsync(7, 0, TimeoutToken).WaitAsync(TimeoutToken)).WorkerId);
            await WaitUntilAsync(() => Sum(completed, "rpc.work_queue.hub", name) == 1);
            Assert.Equal(1, Sum(queued, "rpc.work_queue.hub", name));
        }

        Assert.Equal(0, Sum(sharedStarted, "rpc.dispatcher", name));
        Assert.Equal(0, Sum(sharedSent, "rpc.group.name", name));
        Assert.Equal(0, Sum(sharedQueued, "rpc.work_queue.hub", name));
    }

    private static long Total(MetricCollector<long> io, string direction) =>
        io.GetMeasurementSnapshot().Where(m => Tagged(m, "network.io.direction", direction)).Sum(m => m.Value);

    private static long Sum(MetricCollector<long> collector, string tag, string value) =>
        collector.GetMeasurementSnapshot().Where(m => Tagged(m, tag, value)).Sum(m => m.Value);

    private static bool Tagged<T>(CollectedMeasurement<T> measurement, string tag, string value)
        where T : struct =>
        measurement.Tags.TryGetValue(tag, out var actual) && (string?)actual == value;
}
