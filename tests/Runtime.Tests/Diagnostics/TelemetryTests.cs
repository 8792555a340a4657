using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Nerdbank.Streams;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Rpc.Diagnostics;
using Rpc.Protocols.Binary;
using Rpc.Tests.Conformance;
using Rpc.Tests.Groups;
using Rpc.Tests.WorkQueues;

namespace Rpc.Tests.Diagnostics;

/// <summary>
/// Spans and metrics of the <c>Rpc</c> source and meter, across real processes: the test is the client (recorded by the
/// OpenTelemetry SDK's in-memory exporter), tests/TestHost or tests/WorkerHost the server (reporting its spans through
/// <see cref="SpanFile"/>). A collection of its own, run alone: its listeners would otherwise put trace context on the
/// wire of byte-exact tests running beside it.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests : TestBase
{
    private const string Service = "Rpc.Tests.ITestService";

    private static readonly ActivitySource TestSource = new("Rpc.Tests.Telemetry");

    public static TheoryData<string, string> ProtocolsAndTransports => new()
    {
        { "binary", "unix" },
        { "binary", "tcp" },
        { "binary", "shm" },
        { "json", "unix" },
        { "json", "tcp" },
        { "json", "shm" },
    };

    [Theory]
    [MemberData(nameof(ProtocolsAndTransports))]
    public async Task A_call_to_another_process_is_one_trace_of_a_client_and_a_server_span(string protocol, string transport)
    {
        var spanFile = NewSpanFile();
        var exported = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc", TestSource.Name).AddInMemoryExporter(exported).Build();
        await using var server = await ServerProcess.StartAsync(
            [TestEndpoints.Create(transport)], protocol, [.. TestEndpoints.HostArguments(transport), "--trace-file", spanFile], TimeoutToken);
        var options = TestEndpoints.ClientOptions(transport);
        options.Protocol = protocol == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], options, TimeoutToken);
        var service = connection.CreateProxy<ITestService>();

        ActivityTraceId traceId;
        using (var test = TestSource.StartActivity("test"))
        {
            traceId = test!.TraceId;
            Assert.Equal(42, await service.AddAsync(40, 2).WaitAsync(TimeoutToken));
            await Assert.ThrowsAsync<RemoteInvocationException>(() => service.ThrowAsync("boom").WaitAsync(TimeoutToken));
        }

        var clients = Spans(exported, traceId, ActivityKind.Client);
        Assert.Equal([$"{Service}/Add", $"{Service}/Throw"], clients.Select(s => s.DisplayName));
        var add = clients[0];
        Assert.Equal(protocol == "json" ? "jsonrpc" : "rpc-dotnet", add.GetTagItem("rpc.system"));
        Assert.Equal(Service, add.GetTagItem("rpc.service"));
        Assert.Equal("Add", add.GetTagItem("rpc.method"));
        Assert.Equal(transport, add.GetTagItem("network.transport"));
        Assert.Null(add.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, clients[1].Status);
        Assert.Equal(nameof(RpcErrorCode.InvocationFailed), clients[1].GetTagItem("error.type"));

        // The server process ends its span before it replies; the file is written as each span ends.
        IReadOnlyList<SpanLine> servers = [];
        await WaitUntilAsync(() => (servers = SpanFile.Read(spanFile)).Count >= 2);
        foreach (var client in clients)
        {
            var served = Assert.Single(servers, s => s.ParentSpanId == client.SpanId.ToHexString());
            Assert.Equal(ActivityKind.Server, served.Kind);
            Assert.Equal(client.DisplayName, served.Name);
            Assert.Equal(traceId.ToHexString(), served.TraceId);
        }

        Assert.Equal("-", servers.Single(s => s.Name.EndsWith("/Add", StringComparison.Ordinal)).ErrorType);
        Assert.Equal(nameof(RpcErrorCode.InvocationFailed), servers.Single(s => s.Name.EndsWith("/Throw", StringComparison.Ordinal)).ErrorType);
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task A_stream_to_another_process_is_one_client_and_one_server_span_for_its_whole_life(string protocol)
    {
        var (spanFile, exported, tracing, server, connection) = await ConnectTracedAsync(protocol);
        using (tracing)
        await using (server)
        await using (connection)
        {
            var service = connection.CreateProxy<ITestService>();
            ActivityTraceId traceId;
            var items = new List<int>();
            using (var test = TestSource.StartActivity("test"))
            {
                traceId = test!.TraceId;
                await foreach (var item in service.CountAsync(3, 0).WithCancellation(TimeoutToken))
                {
                    items.Add(item);
                }
            }

            Assert.Equal([0, 1, 2], items);
            var stream = Assert.Single(Spans(exported, traceId, ActivityKind.Client));
            Assert.Equal($"{Service}/Count", stream.DisplayName);
            Assert.Null(stream.GetTagItem("error.type"));

            // The server's span ends with the stream's end (before the end reaches the client), not with its first reply.
            IReadOnlyList<SpanLine> servers = [];
            await WaitUntilAsync(() => (servers = SpanFile.Read(spanFile)).Count >= 1);
            var served = Assert.Single(servers);
            Assert.Equal(ActivityKind.Server, served.Kind);
            Assert.Equal(stream.DisplayName, served.Name);
            Assert.Equal(traceId.ToHexString(), served.TraceId);
            Assert.Equal(stream.SpanId.ToHexString(), served.ParentSpanId);
            Assert.Equal("-", served.ErrorType);
        }
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task A_stream_its_consumer_abandons_early_ends_both_spans_as_cancelled(string protocol)
    {
        var (spanFile, exported, tracing, server, connection) = await ConnectTracedAsync(protocol);
        using (tracing)
        await using (server)
        await using (connection)
        {
            var service = connection.CreateProxy<ITestService>();
            ActivityTraceId traceId;
            using (var test = TestSource.StartActivity("test"))
            {
                traceId = test!.TraceId;
                await foreach (var item in service.CountAsync(1_000_000, 10).WithCancellation(TimeoutToken))
                {
                    break;
                }
            }

            var stream = Assert.Single(Spans(exported, traceId, ActivityKind.Client));
            Assert.Equal(nameof(RpcErrorCode.Cancelled), stream.GetTagItem("error.type"));
            Assert.Equal(ActivityStatusCode.Error, stream.Status);

            // The producer stops on the caller's cancel ($/enumerator/abort in JSON-RPC) and ends its span then.
            IReadOnlyList<SpanLine> servers = [];
            await WaitUntilAsync(() => (servers = SpanFile.Read(spanFile)).Count >= 1, what: "the server ends the abandoned stream's span");
            var served = Assert.Single(servers);
            Assert.Equal(stream.SpanId.ToHexString(), served.ParentSpanId);
            Assert.Equal(nameof(RpcErrorCode.Cancelled), served.ErrorType);
        }
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task A_stream_whose_connection_dies_while_its_consumer_waits_elsewhere_ends_its_span_as_lost(string protocol)
    {
        var (_, exported, tracing, server, connection) = await ConnectTracedAsync(protocol);
        using (tracing)
        await using (server)
        await using (connection)
        {
            var service = connection.CreateProxy<ITestService>();
            ActivityTraceId traceId;
            IAsyncEnumerator<int> stream;
            using (var test = TestSource.StartActivity("test"))
            {
                traceId = test!.TraceId;
                stream = service.CountAsync(1_000_000, 10).GetAsyncEnumerator(TimeoutToken);
                Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(TimeoutToken));
            }

            // The consumer holds the enumerator without asking for more: only the connection's loss can end the span.
            server.Kill();
            await WaitUntilAsync(() => Spans(exported, traceId, ActivityKind.Client).Count == 1, what: "the stream's span ends with the connection");
            var span = Assert.Single(Spans(exported, traceId, ActivityKind.Client));
            Assert.Equal(typeof(ConnectionLostException).FullName, span.GetTagItem("error.type"));
            await stream.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task A_call_refused_before_dispatch_has_a_server_span_saying_why(string protocol)
    {
        var (spanFile, exported, tracing, server, connection) = await ConnectTracedAsync(protocol);
        using (tracing)
        await using (server)
        await using (connection)
        {
            ActivityTraceId traceId;
            using (var test = TestSource.StartActivity("test"))
            {
                traceId = test!.TraceId;
                var refused = await Assert.ThrowsAsync<RemoteInvocationException>(() => connection.CreateProxy<IUnservedService>().MissingAsync().WaitAsync(TimeoutToken));
                Assert.Equal(RpcErrorCode.MethodNotFound, refused.ErrorCode);
            }

            var call = Assert.Single(Spans(exported, traceId, ActivityKind.Client));
            Assert.Equal(nameof(RpcErrorCode.MethodNotFound), call.GetTagItem("error.type"));

            // Not served there, so named by the semantic conventions' placeholder, never by what the peer sent.
            IReadOnlyList<SpanLine> servers = [];
            await WaitUntilAsync(() => (servers = SpanFile.Read(spanFile)).Count >= 1);
            var served = Assert.Single(servers);
            Assert.Equal(ActivityKind.Server, served.Kind);
            Assert.Equal("_OTHER", served.Name);
            Assert.Equal(call.SpanId.ToHexString(), served.ParentSpanId);
            Assert.Equal(nameof(RpcErrorCode.MethodNotFound), served.ErrorType);
        }
    }

    [Fact]
    public async Task A_call_through_a_work_queue_hub_to_a_worker_process_is_one_trace_with_the_hub_as_a_hop()
    {
        var directory = Directory.CreateTempSubdirectory("rpc-otel-").FullName;
        try
        {
            var spanFile = NewSpanFile();
            var exported = new List<Activity>();
            using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc", TestSource.Name).AddInMemoryExporter(exported).Build();
            await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions { Name = $"otel-{Guid.NewGuid():N}" });
            var workerEndpoint = await hub.ListenForWorkersAsync(TestEndpoints.Create("unix"));
            var producerEndpoint = await hub.ListenForProducersAsync(TestEndpoints.Create("unix"));
            await WorkerProcess.EnsureHostAsync();
            await using var worker = await WorkerProcess.StartAsync(workerEndpoint, directory, hang: false, TimeoutToken, ["--trace-file", spanFile]);
            await WaitUntilAsync(() => hub.WorkerCount == 1);
            await using var connection = await RpcConnection.ConnectAsync(producerEndpoint, cancellationToken: TimeoutToken);
            var producer = RpcWorkQueue.CreateProducer<IJobs>(connection);

            ActivityTraceId traceId;
            using (var test = TestSource.StartActivity("test"))
            {
                traceId = test!.TraceId;
                var result = await producer.Proxy.RunAsync(7, 1, TimeoutToken).WaitAsync(TimeoutToken);
                Assert.Equal(worker.ProcessId, result.WorkerId);
            }

            // In this process: the producer's client span, the hub's server span under it, the hub's client span under that.
            var spans = exported.Where(a => a.TraceId == traceId && a.Source.Name == "Rpc").ToList();
            var producerCall = Assert.Single(spans, s => s.Kind == ActivityKind.Client && s.Parent?.Source == TestSource);
            var hubServed = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
            var hubForwarded = Assert.Single(spans, s => s.Kind == ActivityKind.Client && s != producerCall);
            Assert.Equal(producerCall.SpanId, hubServed.ParentSpanId);
            Assert.Equal(hubServed.SpanId, hubForwarded.ParentSpanId);

            // In the worker's process: its server span under the hub's client span.
            IReadOnlyList<SpanLine> workerSpans = [];
            await WaitUntilAsync(() => (workerSpans = SpanFile.Read(spanFile)).Count >= 1);
            var workerServed = Assert.Single(workerSpans);
            Assert.Equal(ActivityKind.Server, workerServed.Kind);
            Assert.Equal(traceId.ToHexString(), workerServed.TraceId);
            Assert.Equal(hubForwarded.SpanId.ToHexString(), workerServed.ParentSpanId);
            Assert.Equal(producerCall.DisplayName, workerServed.Name);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_duration_histograms_count_calls_and_errors_with_their_attributes()
    {
        using var meters = new TestMeterFactory();
        using var clientDurations = new MetricCollector<double>(meters, "Rpc", "rpc.client.call.duration");
        using var serverDurations = new MetricCollector<double>(meters, "Rpc", "rpc.server.call.duration");
        using var activeConnections = new MetricCollector<long>(meters, "Rpc", "rpc.connection.active");
        var endpoint = TestEndpoints.Create("unix");
        await using var server = new RpcServer(new RpcServerOptions { Connection = { MeterFactory = meters } })
            .AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
        var bound = await server.ListenAsync(endpoint, TimeoutToken);
        await using (var connection = await RpcConnection.ConnectAsync(bound, new RpcConnectionOptions { MeterFactory = meters }, TimeoutToken))
        {
            var service = connection.CreateProxy<ITestService>();
            Assert.Equal(3, await service.AddAsync(1, 2).WaitAsync(TimeoutToken));
            Assert.Equal(5, await service.AddAsync(2, 3).WaitAsync(TimeoutToken));
            await Assert.ThrowsAsync<RemoteInvocationException>(() => service.ThrowAsync("boom").WaitAsync(TimeoutToken));
            Assert.Equal(2, activeConnections.GetMeasurementSnapshot().EvaluateAsCounter());
        }

        await WaitUntilAsync(() => serverDurations.GetMeasurementSnapshot().Count == 3);
        foreach (var durations in new[] { clientDurations, serverDurations })
        {
            var measurements = durations.GetMeasurementSnapshot();
            Assert.Equal(3, measurements.Count);
            Assert.All(measurements, m => Assert.InRange(m.Value, 0, 30));
            Assert.All(measurements, m => Assert.Equal("rpc-dotnet", m.Tags["rpc.system"]));
            Assert.All(measurements, m => Assert.Equal(Service, m.Tags["rpc.service"]));
            Assert.All(measurements, m => Assert.Equal("unix", m.Tags["network.transport"]));
            Assert.Equal(2, measurements.Count(m => (string?)m.Tags["rpc.method"] == "Add" && !m.Tags.ContainsKey("error.type")));
            var failed = Assert.Single(measurements, m => m.Tags.ContainsKey("error.type"));
            Assert.Equal("Throw", failed.Tags["rpc.method"]);
            Assert.Equal(nameof(RpcErrorCode.InvocationFailed), failed.Tags["error.type"]);
        }

        Assert.All(clientDurations.GetMeasurementSnapshot(), m => Assert.Equal(bound["unix://".Length..], m.Tags["server.address"]));
        await WaitUntilAsync(() => activeConnections.GetMeasurementSnapshot().EvaluateAsCounter() == 0);
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("json")]
    public async Task A_stream_records_one_duration_on_each_side_and_a_refused_call_one_on_the_server(string protocol)
    {
        using var meters = new TestMeterFactory();
        using var clientDurations = new MetricCollector<double>(meters, "Rpc", "rpc.client.call.duration");
        using var serverDurations = new MetricCollector<double>(meters, "Rpc", "rpc.server.call.duration");
        var rpcProtocol = protocol == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary;
        await using var server = new RpcServer(new RpcServerOptions { Protocols = [rpcProtocol], Connection = { MeterFactory = meters } })
            .AddService<ITestService>(connection => new TestService(connection.CreateProxy<ICallback>()));
        var bound = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(bound, new RpcConnectionOptions { Protocol = rpcProtocol, MeterFactory = meters }, TimeoutToken);

        var count = 0;
        await foreach (var item in connection.CreateProxy<ITestService>().CountAsync(3, 0).WithCancellation(TimeoutToken))
        {
            count++;
        }

        Assert.Equal(3, count);
        await Assert.ThrowsAsync<RemoteInvocationException>(() => connection.CreateProxy<IUnservedService>().MissingAsync().WaitAsync(TimeoutToken));

        await WaitUntilAsync(() => serverDurations.GetMeasurementSnapshot().Count == 2);
        var expectedSystem = protocol == "json" ? "jsonrpc" : "rpc-dotnet";
        var clientStream = Assert.Single(clientDurations.GetMeasurementSnapshot(), m => (string?)m.Tags["rpc.method"] == "Count");
        var serverStream = Assert.Single(serverDurations.GetMeasurementSnapshot(), m => (string?)m.Tags["rpc.method"] == "Count");
        foreach (var stream in new[] { clientStream, serverStream })
        {
            Assert.Equal(expectedSystem, stream.Tags["rpc.system"]);
            Assert.Equal(Service, stream.Tags["rpc.service"]);
            Assert.False(stream.Tags.ContainsKey("error.type"));
        }

        var refused = Assert.Single(serverDurations.GetMeasurementSnapshot(), m => (string?)m.Tags["rpc.method"] == "_OTHER");
        Assert.Equal(nameof(RpcErrorCode.MethodNotFound), refused.Tags["error.type"]);
        Assert.False(refused.Tags.ContainsKey("rpc.service"));
    }

    [Fact]
    public async Task Without_a_listener_no_span_is_made_and_a_request_carries_no_header_and_with_one_it_carries_the_traceparent()
    {
        var (clientPipe, peerPipe) = FullDuplexStream.CreatePipePair();
        var peer = new RawPeer(peerPipe);
        await using var client = RpcConnection.Create(clientPipe);
        client.Start();
        await peer.ReadHelloAsync(TimeoutToken);
        var service = client.CreateProxy<ITestService>();

        Assert.False(RpcTelemetry.Activities.HasListeners());
        _ = service.AddAsync(1, 2, TimeoutToken);
        var plain = await ReadFrameBytesAsync(peer);
        Assert.Equal(FrameKind.Request, (FrameKind)plain[0]);
        Assert.Null(Activity.Current);

        var spans = new List<Activity>();
        using (var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Rpc",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = spans.Add,
        })
        {
            ActivitySource.AddActivityListener(listener);
            _ = service.AddAsync(3, 4, TimeoutToken);
            var traced = await ReadFrameBytesAsync(peer);
            Assert.Equal(FrameKind.Request | FrameKind.HasHeader, (FrameKind)traced[0]);
            var span = Assert.Single(spans);
            Assert.Contains(span.Id!, Encoding.ASCII.GetString(traced), StringComparison.Ordinal);

            // The span belongs to the call: the caller's own current activity is what it was.
            Assert.Null(Activity.Current);
        }
    }

    [Fact]
    public async Task A_json_rpc_request_whose_arguments_do_not_bind_has_a_server_span_with_invalid_arguments()
    {
        var (serverPipe, peer) = FullDuplexStream.CreatePipePair();
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Rpc",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                {
                    spans.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var server = RpcConnection.Create(serverPipe, new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc }).AddService<ITestService>(new TestService());
        server.Start();

        // StreamJsonRpc answers -32602 itself, without a dispatch; the caller's traceparent still parents the span.
        const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var body = Encoding.UTF8.GetBytes($$"""{"jsonrpc":"2.0","id":6,"method":"Add","params":["x","y"],"traceparent":"{{TraceParent}}"}""");
        await peer.Output.WriteAsync(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), TimeoutToken);
        await peer.Output.WriteAsync(body, TimeoutToken);

        await WaitUntilAsync(() => { lock (spans) { return spans.Count == 1; } }, what: "the refused request's span ends");
        var span = Assert.Single(spans);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal($"{Service}/Add", span.DisplayName);
        Assert.Equal(nameof(RpcErrorCode.InvalidArguments), span.GetTagItem("error.type"));
        Assert.Equal("b7ad6b7169203331", span.ParentSpanId.ToHexString());
    }

    [Fact]
    public async Task A_group_broadcast_is_one_producer_span_whatever_the_number_of_members()
    {
        var exported = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc", TestSource.Name).AddInMemoryExporter(exported).Build();
        await using var first = MemberPair.Create(1);
        await using var second = MemberPair.Create(2);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions { Name = $"otel-{Guid.NewGuid():N}" });
        group.Add(first.PublisherSide);
        group.Add(second.PublisherSide);

        ActivityTraceId traceId;
        using (var test = TestSource.StartActivity("test"))
        {
            traceId = test!.TraceId;
            group.All.OnTick(1, "tick");
        }

        await first.Member.WaitForCountAsync(1, TimeoutToken);
        await second.Member.WaitForCountAsync(1, TimeoutToken);
        var broadcast = Assert.Single(Spans(exported, traceId, ActivityKind.Producer));
        Assert.Equal("Rpc.Tests.Groups.IGroupMember/OnTick", broadcast.DisplayName);
        Assert.Equal(group.Name, broadcast.GetTagItem("rpc.group.name"));
    }

    /// <summary>Starts tests/TestHost recording its spans to a file, and connects to it over a Unix socket with this process's spans exported.</summary>
    private async Task<(string SpanFile, List<Activity> Exported, TracerProvider Tracing, ServerProcess Server, RpcConnection Connection)> ConnectTracedAsync(string protocol)
    {
        var spanFile = NewSpanFile();
        var exported = new List<Activity>();
        var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Rpc", TestSource.Name).AddInMemoryExporter(exported).Build();
        var server = await ServerProcess.StartAsync([TestEndpoints.Create("unix")], protocol, ["--trace-file", spanFile], TimeoutToken);
        var options = new RpcConnectionOptions { Protocol = protocol == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary };
        return (spanFile, exported, tracing, server, await RpcConnection.ConnectAsync(server.Endpoints[0], options, TimeoutToken));
    }

    private static string NewSpanFile() => Path.Combine(Path.GetTempPath(), $"rpc-spans-{Guid.NewGuid():N}.txt");

    private static List<Activity> Spans(List<Activity> exported, ActivityTraceId traceId, ActivityKind kind)
    {
        lock (exported)
        {
            return [.. exported.Where(a => a.TraceId == traceId && a.Source.Name == "Rpc" && a.Kind == kind).OrderBy(a => a.StartTimeUtc)];
        }
    }

    /// <summary>Reads one frame after its length: <c>[kind][id][method id][header?][payload]</c>.</summary>
    private async Task<byte[]> ReadFrameBytesAsync(RawPeer peer)
    {
        var length = BinaryPrimitives.ReadUInt32LittleEndian(await peer.ReadExactlyAsync(FrameHeader.LengthSize, TimeoutToken));
        return await peer.ReadExactlyAsync((int)length, TimeoutToken);
    }

    /// <summary>An <see cref="IMeterFactory"/> whose meters are scoped to it, so a collector sees only this test's measurements.</summary>
    internal sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                _meters.ForEach(m => m.Dispose());
            }
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}
