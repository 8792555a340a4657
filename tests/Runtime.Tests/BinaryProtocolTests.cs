using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>The binary protocol end to end over an in-memory pipe: every call shape, every failure mode.</summary>
public sealed class BinaryProtocolTests : TestBase
{
    [Fact]
    public async Task Calls_of_every_return_shape_round_trip()
    {
        await using var pair = ConnectedPair.Create();
        var service = pair.Service;

        Assert.Equal(5, await service.AddAsync(2, 3, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal("héllo", await service.EchoAsync("héllo").AsTask().WaitAsync(TimeoutToken));
        await service.PingAsync().AsTask().WaitAsync(TimeoutToken);
        await service.ResetAsync().WaitAsync(TimeoutToken);
        Assert.Equal("<null>", await service.RenamedAsync(null).WaitAsync(TimeoutToken));
        Assert.Equal("x", await service.RenamedAsync("x").WaitAsync(TimeoutToken));
        Assert.Equal(6, await service.SumBytesAsync(new byte[] { 1, 2, 3 }).WaitAsync(TimeoutToken));
        Assert.Equal(Environment.ProcessId, await service.GetProcessIdAsync().WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task User_records_enums_collections_and_dictionaries_round_trip()
    {
        await using var pair = ConnectedPair.Create();
        var order = new Order(
            7,
            "Ada",
            [new OrderLine("sku-1", 12.50m, 2), new OrderLine("sku-2", 0.0001m, 1)],
            OrderStatus.Shipped,
            new DateTimeOffset(2026, 11, 26, 8, 30, 0, TimeSpan.FromHours(2)),
            new Dictionary<string, int> { ["gift"] = 1 })
        {
            Reference = Guid.NewGuid(),
            Ratings = [5, 4],
        };

        var echoed = await pair.Service.RoundTripAsync(order).WaitAsync(TimeoutToken);

        Assert.Equal(order.Id, echoed.Id);
        Assert.Equal(order.Customer, echoed.Customer);
        Assert.Equal(order.Lines, echoed.Lines);
        Assert.Equal(order.Status, echoed.Status);
        Assert.Equal(order.PlacedAt, echoed.PlacedAt);
        Assert.Equal(order.PlacedAt.Offset, echoed.PlacedAt.Offset);
        Assert.Equal(order.Tags, echoed.Tags);
        Assert.Equal(order.Reference, echoed.Reference);
        Assert.Equal(order.Ratings, echoed.Ratings);
    }

    [Fact]
    public async Task A_stream_delivers_every_item_in_order()
    {
        await using var pair = ConnectedPair.Create();
        var items = new List<int>();
        await foreach (var item in pair.Service.CountAsync(500, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 500), items);
    }

    [Fact]
    public async Task Breaking_out_of_a_stream_stops_the_server_and_keeps_the_connection()
    {
        await using var pair = ConnectedPair.Create();
        await foreach (var item in pair.Service.CountAsync(1_000_000, 0, TimeoutToken))
        {
            if (item == 10)
            {
                break;
            }
        }

        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 0);
    }

    [Fact]
    public async Task Cancelling_a_stream_throws_for_the_consumer()
    {
        await using var pair = ConnectedPair.Create();
        using var cancellation = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var item in pair.Service.CountAsync(1_000_000, 1, cancellation.Token))
            {
                if (++received == 5)
                {
                    await cancellation.CancelAsync();
                }
            }
        }).WaitAsync(TimeoutToken);
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 0);
    }

    [Fact]
    public async Task A_remote_exception_carries_type_message_and_code_but_no_stack_by_default()
    {
        await using var pair = ConnectedPair.Create();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Service.ThrowAsync("boom")).WaitAsync(TimeoutToken);

        Assert.Equal("System.InvalidOperationException", error.RemoteTypeName);
        Assert.Equal("boom", error.Message);
        Assert.Equal(RpcErrorCode.InvocationFailed, error.ErrorCode);
        Assert.Null(error.RemoteStackTrace);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_synchronous_throw_is_reported_like_an_asynchronous_one()
    {
        await using var pair = ConnectedPair.Create();
        var proxy = pair.Service;

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => proxy.ThrowSynchronouslyAsync("bad")).WaitAsync(TimeoutToken);

        Assert.Equal("System.ArgumentException", error.RemoteTypeName);
        Assert.StartsWith("bad", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stack_traces_travel_only_when_the_server_opts_in()
    {
        await using var pair = ConnectedPair.Create(serverOptions: new RpcConnectionOptions { IncludeExceptionStackTraces = true });

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Service.ThrowSynchronouslyAsync("boom")).WaitAsync(TimeoutToken);

        Assert.Contains(nameof(TestService.ThrowSynchronouslyAsync), error.RemoteStackTrace, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_call_fires_the_server_methods_token()
    {
        await using var pair = ConnectedPair.Create();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pair.Service.WaitForCancellationAsync(cancellation.Token)).WaitAsync(TimeoutToken);

        await WaitUntilAsync(async () => await pair.Service.WasLastWaitCancelledAsync());
    }

    [Fact]
    public async Task A_call_with_an_already_cancelled_token_is_never_sent()
    {
        await using var pair = ConnectedPair.Create();

        var call = pair.Service.AddAsync(1, 2, new CancellationToken(canceled: true));

        Assert.True(call.IsCanceled);
        Assert.Equal(0, pair.Server.Protocol.IncomingCallsInFlight);
    }

    [Fact]
    public async Task An_unknown_method_is_a_clear_error_and_the_connection_stays_usable()
    {
        await using var pair = ConnectedPair.Create();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Client.CreateProxy<IUnservedService>().MissingAsync()).WaitAsync(TimeoutToken);

        Assert.Equal(RpcErrorCode.MethodNotFound, error.ErrorCode);
        Assert.StartsWith("The peer does not serve the method 'Missing': ", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Unreadable_arguments_are_a_clear_error_and_the_connection_stays_usable()
    {
        await using var pair = ConnectedPair.Create();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Client.CreateProxy<IWrongArguments>().AddAsync("one", "two")).WaitAsync(TimeoutToken);

        Assert.Equal(RpcErrorCode.InvalidArguments, error.ErrorCode);
        Assert.Contains("Add", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Calling_a_request_method_as_a_stream_is_a_clear_error()
    {
        await using var pair = ConnectedPair.Create();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(async () =>
        {
            await foreach (var _ in pair.Client.CreateProxy<IWrongKind>().AddAsync(1, 2))
            {
            }
        }).WaitAsync(TimeoutToken);

        Assert.Equal(RpcErrorCode.InvalidRequest, error.ErrorCode);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Notifications_arrive_in_order()
    {
        await using var pair = ConnectedPair.Create();
        for (var i = 0; i < 100; i++)
        {
            pair.Service.Notify($"n{i}");
        }

        var notifications = await pair.Service.GetNotificationsAsync().WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"n{i}"), notifications);
    }

    [Fact]
    public async Task The_server_can_call_back_the_client_on_the_same_connection()
    {
        await using var pair = ConnectedPair.Create();

        Assert.Equal(42, await pair.Service.CallBackAsync(21).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_thousand_concurrent_calls_all_complete()
    {
        await using var pair = ConnectedPair.Create();
        var service = pair.Service;

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => service.AddAsync(i, i))).WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => 2 * i), results);
    }

    [Fact]
    public async Task Large_payloads_round_trip_through_pooled_buffers_and_the_argument_goes_back_to_the_pool()
    {
        await using var pair = ConnectedPair.Create();
        var payload = RpcBuffer.Rent(16 * 1024 * 1024);
        new Random(42).NextBytes(payload.Span);
        var expected = payload.Span.ToArray();

        using var echoed = await pair.Service.EchoBufferAsync(payload).WaitAsync(TimeoutToken);

        Assert.Equal(expected.Length, echoed.Length);
        Assert.True(expected.AsSpan().SequenceEqual(echoed.Span));
        Assert.Throws<ObjectDisposedException>(() => payload.Span.Length);
    }

    [Fact]
    public async Task Pending_calls_fail_promptly_with_connection_lost_when_the_peer_goes_away()
    {
        await using var pair = ConnectedPair.Create();
        var pending = pair.Service.SleepAsync(60_000);
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 1);
        var stopwatch = Stopwatch.StartNew();

        await pair.Server.DisposeAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        await pair.Client.Completion.WaitAsync(TimeoutToken);
        Assert.False(pair.Client.IsConnected);
    }

    [Fact]
    public async Task A_call_on_a_closed_connection_fails_at_once()
    {
        await using var pair = ConnectedPair.Create();
        await pair.Client.DisposeAsync();

        var call = pair.Service.AddAsync(1, 2);

        Assert.True(call.IsFaulted);
        await Assert.ThrowsAsync<ConnectionLostException>(() => call);
        Assert.True(pair.Service.PingAsync().AsTask().IsFaulted);
    }

    [Fact]
    public async Task The_callers_cancellation_wins_over_a_concurrent_connection_loss()
    {
        for (var round = 0; round < 20; round++)
        {
            await using var pair = ConnectedPair.Create();
            using var cancellation = new CancellationTokenSource();
            var call = pair.Service.SleepAsync(60_000, cancellation.Token);

            var cancel = Task.Run(cancellation.Cancel);
            var abort = Task.Run(pair.Client.Abort);
            await Task.WhenAll(cancel, abort).WaitAsync(TimeoutToken);

            // Whichever ran first, the caller asked to stop: it must see its own cancellation, not a lost connection,
            // unless the loss was complete before it cancelled.
            var error = await Record.ExceptionAsync(() => call).WaitAsync(TimeoutToken);
            Assert.True(error is OperationCanceledException or ConnectionLostException, error?.GetType().Name);
            if (error is ConnectionLostException)
            {
                Assert.True(pair.Client.CloseReason is not null);
            }
        }
    }

    [Fact]
    public async Task A_cancelled_caller_sees_cancellation_even_when_the_connection_is_lost_afterwards()
    {
        await using var pair = ConnectedPair.Create();
        using var cancellation = new CancellationTokenSource();
        var call = pair.Service.SleepAsync(60_000, cancellation.Token);

        await cancellation.CancelAsync();
        pair.Client.Abort();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeoutToken);
    }

    [Fact]
    public async Task Arguments_over_the_frame_limit_fail_the_call_and_nothing_is_sent()
    {
        await using var pair = ConnectedPair.Create(clientOptions: new RpcConnectionOptions { MaxFrameSize = 64 * 1024 });

        var error = await Assert.ThrowsAsync<RpcException>(() => pair.Service.EchoBytesAsync(new byte[1024 * 1024])).WaitAsync(TimeoutToken);

        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_peer_announcing_a_2_GiB_frame_is_disconnected_at_once()
    {
        await using var pair = ConnectedPair.Create(startClient: false);
        var header = new byte[9];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x7FFF_FFFF);
        header[4] = 1;

        await pair.ClientPipe.Output.WriteAsync(header, TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains("limit", reason.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 5, 0, 0, 0, 99, 1, 0, 0, 0 }, "unknown kind")]
    [InlineData(new byte[] { 2, 0, 0, 0, 1, 1 }, "shorter")]
    [InlineData(new byte[] { 5, 0, 0, 0, 4, 9, 0, 0, 0 }, "never made")]
    public async Task Malformed_frames_disconnect_with_a_protocol_error(byte[] frame, string expected)
    {
        await using var pair = ConnectedPair.Create(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(frame, TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains(expected, reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_frame_followed_by_close_is_reported_as_connection_lost()
    {
        await using var pair = ConnectedPair.Create(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(new byte[] { 100, 0, 0, 0, 1, 1, 0 }, TimeoutToken);
        await pair.ClientPipe.Output.CompleteAsync();

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<ConnectionLostException>(pair.Server.CloseReason);
        Assert.Contains("middle of a frame", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serving_two_contracts_with_the_same_wire_name_is_refused()
    {
        await using var pair = ConnectedPair.Create();

        var error = Assert.Throws<InvalidOperationException>(() => pair.Server.AddService<IWrongArguments>(new WrongArguments()));

        Assert.Contains("'Add'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_contract_extending_another_serves_both_methods()
    {
        var (serverPipe, clientPipe) = Nerdbank.Streams.FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe).AddService<IExtendedService>(new ExtendedService());
        server.Start();
        await using var client = RpcConnection.Create(clientPipe);
        client.Start();
        var proxy = client.CreateProxy<IExtendedService>();

        Assert.Equal("extended", await proxy.DescribeAsync().WaitAsync(TimeoutToken));
        Assert.Equal(30, await proxy.OnValueAsync(10).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task An_error_relayed_through_a_forwarding_server_keeps_its_original_type()
    {
        // client → relay (serves ICallback by calling the origin) → origin (throws)
        var (originServerPipe, originClientPipe) = Nerdbank.Streams.FullDuplexStream.CreatePipePair();
        await using var origin = RpcConnection.Create(originServerPipe).AddService<ICallback>(new ThrowingCallback());
        origin.Start();
        await using var toOrigin = RpcConnection.Create(originClientPipe);
        toOrigin.Start();
        var (relayServerPipe, relayClientPipe) = Nerdbank.Streams.FullDuplexStream.CreatePipePair();
        await using var relay = RpcConnection.Create(relayServerPipe).AddService<ICallback>(new ForwardingCallback(toOrigin.CreateProxy<ICallback>()));
        relay.Start();
        await using var client = RpcConnection.Create(relayClientPipe);
        client.Start();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => client.CreateProxy<ICallback>().OnValueAsync(1)).WaitAsync(TimeoutToken);

        Assert.Equal("System.InvalidOperationException", error.RemoteTypeName);
        Assert.Equal("deep", error.Message);
        Assert.Equal(RpcErrorCode.InvocationFailed, error.ErrorCode);
    }

    private sealed class ThrowingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => throw new InvalidOperationException("deep");
    }

    private sealed class ForwardingCallback(ICallback next) : ICallback
    {
        public Task<int> OnValueAsync(int value) => next.OnValueAsync(value);
    }

    private sealed class WrongArguments : IWrongArguments
    {
        public Task<int> AddAsync(string a, string b) => Task.FromResult(0);
    }

    private sealed class ExtendedService : IExtendedService
    {
        public Task<string> DescribeAsync() => Task.FromResult("extended");

        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
