using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Rpc.Protocols.Binary;
using Rpc.Tests.Conformance;
using Rpc.Tests.Groups;
using Rpc.Tests.Processes;
using Rpc.Tests.WorkQueues;
using Rpc.Transports;

namespace Rpc.Tests.Diagnostics;

[RpcContract]
public interface ILogProbe
{
    Task<int> AddAsync(int a, int b);

    Task FailAsync(string message);

    void Fire(string message);

    Task HangAsync(CancellationToken cancellationToken = default);

    Task<int> FailOtherAsync(string message);

    IAsyncEnumerable<int> FailStreamAsync(string message);
}

/// <summary>
/// What an operator sees: a server in this process logs into a <see cref="FakeLogCollector"/> while clients (raw peers
/// over real sockets, our clients of both protocols, worker and child processes) make it log.
/// </summary>
public sealed class LoggingTests : TestBase, IAsyncLifetime
{
    private readonly FakeLogCollector _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly ConcurrentQueue<string> _accepted = new();
    private RpcServer _server = null!;
    private string _endpoint = null!;

    public LoggingTests()
    {
        _loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(_logs)));
    }

    public async Task InitializeAsync()
    {
        _server = StartServer(new RpcServerOptions
        {
            Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc],
            Connection = { LoggerFactory = _loggerFactory },
        });
        _endpoint = await _server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _loggerFactory.Dispose();
    }

    [Fact]
    public async Task A_protocol_violation_from_a_raw_peer_is_logged_with_its_event_id_and_the_peer()
    {
        await using var raw = await RpcTransports.ConnectAsync(_endpoint, cancellationToken: TimeoutToken);
        const byte UnknownKind = 0x7E;
        var frame = RawPeer.Frame(FrameKind.Request, 1);
        frame[FrameHeader.LengthSize] = UnknownKind;
        await raw.Transport.Output.WriteAsync(BinaryHello.Before(frame), TimeoutToken);

        var violation = await WaitForAsync(2001);
        Assert.Equal(LogLevel.Warning, violation.Level);
        Assert.Equal("Rpc.RpcConnection", violation.Category);
        Assert.Equal(Assert.Single(_accepted), StateOf(violation, "RemoteEndpoint"));
        Assert.Contains("unknown kind 126", violation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_speaks_neither_protocol_is_refused_and_logged_with_its_first_bytes_only()
    {
        await using var raw = await RpcTransports.ConnectAsync(_endpoint, cancellationToken: TimeoutToken);
        await raw.Transport.Output.WriteAsync(new byte[] { 0x00, 0x01, 0x02, 0x03 }, TimeoutToken);

        var refused = await WaitForAsync(2002);
        Assert.Equal(LogLevel.Warning, refused.Level);
        Assert.Equal("Rpc.RpcServer", refused.Category);
        Assert.Contains("00010203", refused.Message, StringComparison.Ordinal);
        Assert.Empty(_accepted);
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_notification_or_method_that_throws_is_logged_with_its_wire_name(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var client = await RpcConnection.ConnectAsync(_endpoint, new RpcConnectionOptions { Protocol = protocol }, TimeoutToken);
        var probe = client.CreateProxy<ILogProbe>();

        probe.Fire("notification boom");
        await Assert.ThrowsAsync<RemoteInvocationException>(() => probe.FailAsync("call boom")).WaitAsync(TimeoutToken);

        var notification = await WaitForAsync(3002);
        Assert.Equal(LogLevel.Warning, notification.Level);
        Assert.Equal("Fire", StateOf(notification, "Method"));
        Assert.Equal("notification boom", notification.Exception?.Message);
        var call = await WaitForAsync(3001);
        Assert.Equal(LogLevel.Warning, call.Level);
        Assert.Equal("Fail", StateOf(call, "Method"));
        Assert.Equal("call boom", call.Exception?.Message);
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task Concurrent_failing_calls_of_different_methods_are_each_logged_with_their_own_method(string protocolName)
    {
        const int Rounds = 40;
        var protocol = TestProtocols.Named(protocolName);
        await using var client = await RpcConnection.ConnectAsync(_endpoint, new RpcConnectionOptions { Protocol = protocol }, TimeoutToken);
        var probe = client.CreateProxy<ILogProbe>();

        // Interleaved on the server: each method's task faults while others are being dispatched and failing.
        var calls = new List<Task>();
        for (var i = 0; i < Rounds; i++)
        {
            probe.Fire($"Fire {i}");
            calls.Add(Assert.ThrowsAsync<RemoteInvocationException>(() => probe.FailAsync($"Fail {i}")));
            calls.Add(Assert.ThrowsAsync<RemoteInvocationException>(() => probe.FailOtherAsync($"FailOther {i}")));
            if (protocol == RpcProtocol.Binary)
            {
                // (JSON-RPC serves a stream's items as StreamJsonRpc's own $/enumerator/next calls, which its log names.)
                calls.Add(Assert.ThrowsAsync<RemoteInvocationException>(async () =>
                {
                    await foreach (var item in probe.FailStreamAsync($"FailStream {i}"))
                    {
                    }
                }));
            }
        }

        await Task.WhenAll(calls).WaitAsync(TimeoutToken);
        var requests = calls.Count;
        await WaitUntilAsync(() => _logs.GetSnapshot().Count(r => r.Id.Id is 3001 or 3002) == requests + Rounds, what: "every failure is logged");
        var failures = _logs.GetSnapshot().Where(r => r.Id.Id is 3001 or 3002).ToList();
        Assert.All(failures, r => Assert.Equal(r.Exception!.Message.Split(' ')[0], StateOf(r, "Method")));
        Assert.Equal(Rounds, failures.Count(r => r.Id.Id == 3002 && StateOf(r, "Method") == "Fire"));
        Assert.Equal(requests, failures.Count(r => r.Id.Id == 3001));
    }

    [Fact]
    public async Task A_connection_closed_mid_frame_is_logged_with_its_reason_and_a_clean_close_at_debug()
    {
        await using (var client = await RpcConnection.ConnectAsync(_endpoint, cancellationToken: TimeoutToken))
        {
            Assert.Equal(3, await client.CreateProxy<ILogProbe>().AddAsync(1, 2).WaitAsync(TimeoutToken));
        }

        var clean = await WaitForAsync(1002);
        Assert.Equal(LogLevel.Debug, clean.Level);

        await using (var raw = await RpcTransports.ConnectAsync(_endpoint, cancellationToken: TimeoutToken))
        {
            await raw.Transport.Output.WriteAsync(BinaryHello.Before([0x40, 0x00]), TimeoutToken);
            await WaitUntilAsync(() => _accepted.Count == 2);
        }

        var lost = await WaitForAsync(1003);
        Assert.Equal(LogLevel.Information, lost.Level);
        Assert.Contains("in the middle of a frame", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_stops_answering_is_logged_as_a_keepalive_timeout()
    {
        await using var server = StartServer(new RpcServerOptions
        {
            Connection = { LoggerFactory = _loggerFactory, KeepAliveInterval = TimeSpan.FromMilliseconds(100), KeepAliveTimeout = TimeSpan.FromMilliseconds(300) },
        });
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);

        // Says hello, then reads nothing and answers nothing: alive at the socket, stopped above it.
        await using var raw = await RpcTransports.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        await raw.Transport.Output.WriteAsync(BinaryHello.Before(), TimeoutToken);

        var timeout = await WaitForAsync(1004);
        Assert.Equal(LogLevel.Warning, timeout.Level);
    }

    [Fact]
    public async Task A_shutdown_that_has_to_cancel_running_calls_is_logged_and_the_cancelled_calls_are_not_failures()
    {
        var server = StartServer(new RpcServerOptions { Connection = { LoggerFactory = _loggerFactory }, ShutdownTimeout = TimeSpan.FromMilliseconds(200) });
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        await using var client = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var hanging = client.CreateProxy<ILogProbe>().HangAsync(TimeoutToken);
        await WaitUntilAsync(() => server.Connections.Sum(c => c.Protocol.IncomingCallsInFlight) == 1);

        await server.StopAsync().WaitAsync(TimeoutToken);

        var drain = await WaitForAsync(1007);
        Assert.Equal(LogLevel.Warning, drain.Level);
        Assert.Equal("1", StateOf(drain, "Calls"));
        await Assert.ThrowsAnyAsync<Exception>(() => hanging).WaitAsync(TimeoutToken);
        Assert.DoesNotContain(_logs.GetSnapshot(), r => r.Id.Id == 3001);
    }

    [Fact]
    public async Task A_group_member_disconnected_by_its_full_queue_policy_is_logged()
    {
        await using var stuck = MemberPair.Create(startMember: false);
        using var group = new RpcGroup<IGroupMember>(new RpcGroupOptions
        {
            Name = $"log-{Guid.NewGuid():N}",
            MemberQueueCapacity = 16,
            FullQueuePolicy = RpcFullQueuePolicy.Disconnect,
            LoggerFactory = _loggerFactory,
        });
        group.Add(stuck.PublisherSide);

        // 16 KiB messages to a member that never reads: its pipe, its connection's backlog, then its queue fill.
        var payload = new string('p', 16 * 1024);
        for (var i = 0; i < 600 && stuck.PublisherSide.IsConnected; i++)
        {
            group.All.OnTick(i, payload);
        }

        var disconnected = await WaitForAsync(4001);
        Assert.Equal(LogLevel.Warning, disconnected.Level);
        Assert.Equal("Rpc.RpcGroup", disconnected.Category);
        Assert.Equal(nameof(RpcFullQueuePolicy.Disconnect), StateOf(disconnected, "Policy"));
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_healthy_run_of_many_calls_logs_nothing_above_debug(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        const int Calls = 500;
        await using (var client = await RpcConnection.ConnectAsync(_endpoint, new RpcConnectionOptions { Protocol = protocol, LoggerFactory = _loggerFactory }, TimeoutToken))
        {
            var probe = client.CreateProxy<ILogProbe>();
            var sums = await Task.WhenAll(Enumerable.Range(0, Calls).Select(i => probe.AddAsync(i, 1))).WaitAsync(TimeoutToken);
            Assert.Equal(Enumerable.Range(1, Calls), sums);
        }

        // Both ends logged their close, at Debug, and nothing else rose above it.
        await WaitUntilAsync(() => _logs.GetSnapshot().Count(r => r.Id.Id == 1002) == 2);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 1001);
        Assert.All(_logs.GetSnapshot(), r => Assert.True(r.Level <= LogLevel.Debug, $"{r.Level} {r.Id}: {r.Message}"));
    }

    [Fact]
    public async Task Without_a_logger_factory_no_connection_or_stub_is_set_up_for_logging()
    {
        await using var server = StartServer(new RpcServerOptions());
        var endpoint = await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        await using var client = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        Assert.Equal(3, await client.CreateProxy<ILogProbe>().AddAsync(1, 2).WaitAsync(TimeoutToken));

        var served = Assert.Single(server.Connections);
        Assert.False(served.Protocol.IsLogging);
        Assert.False(client.Protocol.IsLogging);
    }

    [Fact]
    public async Task A_worker_process_killed_mid_call_is_logged_by_the_hub()
    {
        var directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"rpc-log-{Guid.NewGuid():N}")).FullName;
        await using var hub = new WorkQueueHub<IJobs>(new WorkQueueOptions
        {
            Name = $"log-{Guid.NewGuid():N}",
            Server = { Connection = { LoggerFactory = _loggerFactory } },
        });
        var workerEndpoint = await hub.ListenForWorkersAsync(TestEndpoints.Create("unix"), TimeoutToken);
        var worker = await WorkerProcess.StartAsync(workerEndpoint, directory, hang: true, TimeoutToken);
        try
        {
            await WaitUntilAsync(() => hub.WorkerCount == 1);
            var call = hub.Proxy.RunAsync(1, 0, TimeoutToken);
            await WaitUntilAsync(() => LoggingJobs.ReadLog(worker.LogPath).Started.Count == 1);

            worker.Kill();

            await Assert.ThrowsAsync<WorkerLostException>(() => call).WaitAsync(TimeoutToken);
            var lost = await WaitForAsync(5002);
            Assert.Equal(LogLevel.Warning, lost.Level);
            Assert.Equal("Rpc.WorkQueueHub", lost.Category);
            Assert.Equal("Run", StateOf(lost, "Method"));
        }
        finally
        {
            await worker.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_child_process_that_dies_is_logged_as_an_unexpected_exit()
    {
        var options = ChildProcessTests.Options();
        options.Connection.LoggerFactory = _loggerFactory;
        await using var child = await RpcChildProcess.StartAsync<ITestService>(options, cancellationToken: TimeoutToken);
        await child.Proxy.PingAsync().AsTask().WaitAsync(TimeoutToken);

        child.Process.Kill();

        var exit = await WaitForAsync(6003);
        Assert.Equal(LogLevel.Warning, exit.Level);
        Assert.Equal(child.ProcessId, int.Parse(StateOf(exit, "ProcessId")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("137", StateOf(exit, "ExitCode"));
    }

    [Fact]
    public async Task A_reconnecting_client_logs_its_first_failed_attempt_as_a_warning_the_next_as_debug_and_its_reconnect()
    {
        var endpoint = TestEndpoints.Create("unix");
        var first = StartServer(new RpcServerOptions());
        await first.ListenAsync(endpoint, TimeoutToken);
        await using var client = new RpcClient(endpoint, new RpcClientOptions
        {
            Connection = { LoggerFactory = _loggerFactory },
            Reconnect = { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(50) },
        });
        var probe = client.GetProxy<ILogProbe>();
        await client.ConnectAsync(TimeoutToken);
        Assert.Equal(3, await probe.AddAsync(1, 2));
        Assert.Empty(ClientRecords());

        await first.DisposeAsync();
        await WaitUntilAsync(() => ClientRecords().Count(r => r.Id.Id == 1009) >= 2, what: "two failed attempts are logged");
        await using var second = StartServer(new RpcServerOptions());
        await second.ListenAsync(endpoint, TimeoutToken);
        var reconnected = await WaitForAsync(1010);

        var failures = ClientRecords().Where(r => r.Id.Id == 1009).ToList();
        Assert.Equal(LogLevel.Warning, failures[0].Level);
        Assert.Equal("1", StateOf(failures[0], "Attempt"));
        Assert.Equal(endpoint, StateOf(failures[0], "Endpoint"));
        Assert.All(failures.Skip(1), failure => Assert.Equal(LogLevel.Debug, failure.Level));
        Assert.Equal(LogLevel.Information, reconnected.Level);
        Assert.Equal("Rpc.RpcClient", reconnected.Category);
        Assert.Equal((failures.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), StateOf(reconnected, "Attempts"));
        Assert.Equal(3, await probe.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_client_that_gives_up_logs_an_error_with_the_last_attempts_error()
    {
        var endpoint = TestEndpoints.Create("unix");
        await using var client = new RpcClient(endpoint, new RpcClientOptions
        {
            Connection = { LoggerFactory = _loggerFactory },
            Reconnect = { InitialDelay = TimeSpan.FromMilliseconds(10), MaxAttempts = 2 },
        });

        await Assert.ThrowsAsync<ConnectionLostException>(() => client.ConnectAsync(TimeoutToken));

        var gaveUp = await WaitForAsync(1011);
        Assert.Equal(LogLevel.Error, gaveUp.Level);
        Assert.Equal("2", StateOf(gaveUp, "Attempts"));
        Assert.NotNull(gaveUp.Exception);
        Assert.Equal(LogLevel.Warning, Assert.Single(ClientRecords(), r => r.Id.Id == 1009).Level);
    }

    private static string? StateOf(FakeLogRecord record, string key) =>
        record.GetStructuredStateValue(key);

    private RpcServer StartServer(RpcServerOptions options)
    {
        var server = new RpcServer(options).AddService<ILogProbe>(new Probe());
        server.ConnectionAccepted += connection => _accepted.Enqueue(connection.RemoteEndpoint);
        return server;
    }

    private List<FakeLogRecord> ClientRecords() =>
        [.. _logs.GetSnapshot().Where(r => r.Category == "Rpc.RpcClient")];

    private async Task<FakeLogRecord> WaitForAsync(int eventId)
    {
        await WaitUntilAsync(() => _logs.GetSnapshot().Any(r => r.Id.Id == eventId), what: $"event {eventId} is logged");
        return _logs.GetSnapshot().First(r => r.Id.Id == eventId);
    }

    private sealed class Probe : ILogProbe
    {
        public Task<int> AddAsync(int a, int b) => Task.FromResult(a + b);

        public async Task FailAsync(string message)
        {
            await Task.Yield();
            throw new InvalidOperationException(message);
        }

        public void Fire(string message) => throw new InvalidOperationException(message);

        public Task HangAsync(CancellationToken cancellationToken) => Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);

        public async Task<int> FailOtherAsync(string message)
        {
            await Task.Yield();
            throw new InvalidOperationException(message);
        }

        public async IAsyncEnumerable<int> FailStreamAsync(string message)
        {
            yield return 1;
            await Task.Yield();
            throw new InvalidOperationException(message);
        }
    }
}
