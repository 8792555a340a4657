using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests.JsonRpc;

/// <summary>The JSON-RPC interop protocol end to end over an in-memory pipe: the binary protocol's scenarios, plus the wire.</summary>
public sealed class JsonRpcProtocolTests : TestBase
{
    private static RpcConnectionOptions Json(Action<RpcConnectionOptions>? configure = null)
    {
        var options = new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc };
        configure?.Invoke(options);
        return options;
    }

    private static ConnectedPair CreatePair(RpcConnectionOptions? serverOptions = null, RpcConnectionOptions? clientOptions = null, bool startClient = true) =>
        ConnectedPair.Create(serverOptions ?? Json(), clientOptions ?? Json(), startClient);

    [Fact]
    public async Task Calls_of_every_return_shape_round_trip()
    {
        await using var pair = CreatePair();
        var service = pair.Service;

        Assert.Equal(5, await service.AddAsync(2, 3, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal("héllo", await service.EchoAsync("héllo").AsTask().WaitAsync(TimeoutToken));
        await service.PingAsync().AsTask().WaitAsync(TimeoutToken);
        await service.ResetAsync().WaitAsync(TimeoutToken);
        Assert.Equal("<null>", await service.RenamedAsync(null).WaitAsync(TimeoutToken));
        Assert.Equal("x", await service.RenamedAsync("x").WaitAsync(TimeoutToken));
        Assert.Equal(6, await service.SumBytesAsync(new byte[] { 1, 2, 3 }).WaitAsync(TimeoutToken));
        Assert.Equal(new byte[] { 9, 8, 7 }, await service.EchoBytesAsync([9, 8, 7]).WaitAsync(TimeoutToken));
        Assert.Equal(Environment.ProcessId, await service.GetProcessIdAsync().WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task User_records_enums_collections_and_dictionaries_round_trip()
    {
        await using var pair = CreatePair();
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
        await using var pair = CreatePair();
        var items = new List<int>();
        await foreach (var item in pair.Service.CountAsync(200, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 200), items);
    }

    [Fact]
    public async Task Breaking_out_of_a_stream_stops_the_server_and_keeps_the_connection()
    {
        await using var pair = CreatePair();
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
        await using var pair = CreatePair();
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
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 0);
    }

    [Fact]
    public async Task A_remote_exception_carries_type_message_and_code_but_no_stack_by_default()
    {
        await using var pair = CreatePair();

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
        await using var pair = CreatePair();
        var proxy = pair.Service;

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => Task.Run(() => proxy.ThrowSynchronouslyAsync("bad"))).WaitAsync(TimeoutToken);

        Assert.Equal("System.ArgumentException", error.RemoteTypeName);
        Assert.StartsWith("bad", error.Message, StringComparison.Ordinal);
        Assert.Equal(RpcErrorCode.InvocationFailed, error.ErrorCode);
    }

    [Fact]
    public async Task Stack_traces_travel_only_when_the_server_opts_in()
    {
        await using var pair = CreatePair(serverOptions: Json(o => o.IncludeExceptionStackTraces = true));
        var proxy = pair.Service;

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => Task.Run(() => proxy.ThrowSynchronouslyAsync("bad"))).WaitAsync(TimeoutToken);

        Assert.Contains(nameof(TestService.ThrowSynchronouslyAsync), error.RemoteStackTrace, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_call_fires_the_server_methods_token()
    {
        await using var pair = CreatePair();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pair.Service.WaitForCancellationAsync(cancellation.Token)).WaitAsync(TimeoutToken);

        await WaitUntilAsync(async () => await pair.Service.WasLastWaitCancelledAsync());
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 0);
    }

    [Fact]
    public async Task A_call_with_an_already_cancelled_token_is_never_sent()
    {
        await using var pair = CreatePair();

        var call = pair.Service.AddAsync(1, 2, new CancellationToken(canceled: true));

        Assert.True(call.IsCanceled);
        Assert.Equal(0, pair.Server.Protocol.IncomingCallsInFlight);
    }

    [Fact]
    public async Task An_unknown_method_is_a_clear_error_and_the_connection_stays_usable()
    {
        await using var pair = CreatePair();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Client.CreateProxy<IUnservedService>().MissingAsync()).WaitAsync(TimeoutToken);

        Assert.Equal(RpcErrorCode.MethodNotFound, error.ErrorCode);
        Assert.Contains("Missing", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Unreadable_arguments_are_a_clear_error_and_the_connection_stays_usable()
    {
        await using var pair = CreatePair();

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Client.CreateProxy<IWrongArguments>().AddAsync("one", "two")).WaitAsync(TimeoutToken);

        Assert.Equal(RpcErrorCode.InvalidArguments, error.ErrorCode);
        Assert.Contains("Add", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Notifications_arrive_in_order()
    {
        await using var pair = CreatePair();
        for (var i = 0; i < 100; i++)
        {
            pair.Service.Notify($"n{i}");
        }

        var notifications = await pair.Service.GetNotificationsAsync().WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"n{i}"), notifications);
    }

    [Fact]
    public async Task A_notification_on_a_closed_connection_does_not_throw()
    {
        await using var pair = CreatePair();
        await pair.Client.DisposeAsync();

        pair.Service.Notify("lost");
    }

    [Fact]
    public async Task The_server_can_call_back_the_client_on_the_same_connection()
    {
        await using var pair = CreatePair();

        Assert.Equal(42, await pair.Service.CallBackAsync(21).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_thousand_concurrent_calls_all_complete()
    {
        await using var pair = CreatePair();
        var service = pair.Service;

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => service.AddAsync(i, i))).WaitAsync(TimeoutToken);

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => 2 * i), results);
    }

    [Fact]
    public async Task Large_payloads_round_trip_as_base64()
    {
        await using var pair = CreatePair();
        var payload = RpcBuffer.Rent(4 * 1024 * 1024);
        new Random(42).NextBytes(payload.Span);
        var expected = payload.Span.ToArray();

        using var echoed = await pair.Service.EchoBufferAsync(payload).WaitAsync(TimeoutToken);

        Assert.Equal(expected.Length, echoed.Length);
        Assert.True(expected.AsSpan().SequenceEqual(echoed.Span));
        payload.Dispose();
    }

    [Fact]
    public async Task Pending_calls_fail_promptly_with_connection_lost_when_the_peer_goes_away()
    {
        await using var pair = CreatePair();
        var pending = pair.Service.SleepAsync(60_000);
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 1);
        var stopwatch = Stopwatch.StartNew();

        await pair.Server.DisposeAsync().AsTask().WaitAsync(TimeoutToken);

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        await pair.Client.Completion.WaitAsync(TimeoutToken);
        Assert.False(pair.Client.IsConnected);
        Assert.IsType<ConnectionLostException>(pair.Client.CloseReason);
    }

    [Fact]
    public async Task Server_methods_see_their_token_fire_when_the_client_disconnects()
    {
        var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
        var implementation = new TestService();
        await using var server = RpcConnection.Create(serverPipe, Json()).AddService<ITestService>(implementation);
        server.Start();
        await using var client = RpcConnection.Create(clientPipe, Json());
        client.Start();
        var pending = client.CreateProxy<ITestService>().WaitForCancellationAsync(CancellationToken.None);
        await WaitUntilAsync(() => server.Protocol.IncomingCallsInFlight == 1);

        client.Abort();

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending).WaitAsync(TimeoutToken);
        await server.Completion.WaitAsync(TimeoutToken);
        Assert.IsType<ConnectionLostException>(server.CloseReason);
        await WaitUntilAsync(() => implementation.WasLastWaitCancelledAsync());
    }

    [Fact]
    public async Task A_call_on_a_closed_connection_fails_at_once()
    {
        await using var pair = CreatePair();
        await pair.Client.DisposeAsync();

        var call = pair.Service.AddAsync(1, 2);

        Assert.True(call.IsFaulted);
        await Assert.ThrowsAsync<ConnectionLostException>(() => call);
        Assert.True(pair.Service.PingAsync().AsTask().IsFaulted);
        Assert.True(pair.Client.Completion.IsCompleted);
        Assert.Null(pair.Client.CloseReason);
    }

    [Fact]
    public async Task The_callers_cancellation_wins_over_a_concurrent_connection_loss()
    {
        for (var round = 0; round < 20; round++)
        {
            await using var pair = CreatePair();
            using var cancellation = new CancellationTokenSource();
            var call = pair.Service.SleepAsync(60_000, cancellation.Token);

            var cancel = Task.Run(cancellation.Cancel);
            var abort = Task.Run(pair.Client.Abort);
            await Task.WhenAll(cancel, abort).WaitAsync(TimeoutToken);

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
        await using var pair = CreatePair();
        using var cancellation = new CancellationTokenSource();
        var call = pair.Service.SleepAsync(60_000, cancellation.Token);

        await cancellation.CancelAsync();
        pair.Client.Abort();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeoutToken);
    }

    [Fact]
    public async Task A_peer_announcing_a_2_GiB_message_is_disconnected_at_once()
    {
        await using var pair = CreatePair(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(Encoding.ASCII.GetBytes("Content-Length: 2147483647\r\n\r\n{"), TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains("limit", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_over_a_small_limit_is_refused_while_one_under_it_is_served()
    {
        await using var pair = CreatePair(serverOptions: Json(o => o.MaxFrameSize = 1024));
        Assert.Equal(3, await pair.Service.AddAsync(1, 2).WaitAsync(TimeoutToken));

        var big = pair.Service.EchoAsync(new string('x', 4096)).AsTask();

        await Assert.ThrowsAsync<ConnectionLostException>(() => big).WaitAsync(TimeoutToken);
        await pair.Server.Completion.WaitAsync(TimeoutToken);
        Assert.Contains("limit", Assert.IsType<RpcProtocolException>(pair.Server.CloseReason).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_block_without_its_terminator_is_disconnected()
    {
        await using var pair = CreatePair(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(Encoding.ASCII.GetBytes("X-Padding: " + new string('a', 8000)), TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains("header block", reason.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}", "without a Content-Length")]
    [InlineData("Content-Length: twelve\r\n\r\n", "not a positive number")]
    [InlineData("Content-Length: -5\r\n\r\n", "not a positive number")]
    [InlineData("Content-Length: 0\r\n\r\n", "not a positive number")]
    [InlineData("Content-Length: 2\n\n{}", "CRLF")]
    [InlineData("Content-Length 2\r\n\r\n{}", "colon")]
    [InlineData("Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "two Content-Length")]
    public async Task Malformed_headers_disconnect_with_a_protocol_error(string bytes, string expected)
    {
        await using var pair = CreatePair(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(Encoding.ASCII.GetBytes(bytes), TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        var reason = Assert.IsType<RpcProtocolException>(pair.Server.CloseReason);
        Assert.Contains(expected, reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unparseable_json_disconnects_with_a_protocol_error()
    {
        await using var pair = CreatePair(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(Encoding.ASCII.GetBytes("Content-Length: 5\r\n\r\n{oops"), TimeoutToken);

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        Assert.True(pair.Server.CloseReason is RpcProtocolException, pair.Server.CloseReason?.ToString());
    }

    [Fact]
    public async Task A_truncated_message_followed_by_close_is_reported_as_connection_lost()
    {
        await using var pair = CreatePair(startClient: false);

        await pair.ClientPipe.Output.WriteAsync(Encoding.ASCII.GetBytes("Content-Length: 100\r\n\r\n{\"jsonrpc\""), TimeoutToken);
        await pair.ClientPipe.Output.CompleteAsync();

        await pair.Server.Completion.WaitAsync(TimeoutToken);
        Assert.True(pair.Server.CloseReason is ConnectionLostException, pair.Server.CloseReason?.ToString());
    }

    [Fact]
    public async Task Serving_two_contracts_with_the_same_wire_name_is_refused()
    {
        var (serverPipe, _) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, Json()).AddService<ITestService>(new TestService());

        var error = Assert.Throws<InvalidOperationException>(() => server.AddService<IWrongArguments>(new WrongArguments()));

        Assert.Contains("'Add'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adding_a_service_after_start_is_refused_with_a_clear_message()
    {
        await using var pair = CreatePair();

        var error = Assert.Throws<InvalidOperationException>(() => pair.Server.AddService<IExtendedService>(new ExtendedService()));

        Assert.Contains("after it has started", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_contract_extending_another_serves_both_methods()
    {
        var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, Json()).AddService<IExtendedService>(new ExtendedService());
        server.Start();
        await using var client = RpcConnection.Create(clientPipe, Json());
        client.Start();
        var proxy = client.CreateProxy<IExtendedService>();

        Assert.Equal("extended", await proxy.DescribeAsync().WaitAsync(TimeoutToken));
        Assert.Equal(30, await proxy.OnValueAsync(10).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Shutdown_hooks_reject_new_calls_drain_and_cancel_running_ones()
    {
        await using var pair = CreatePair();
        var running = pair.Service.WaitForCancellationAsync(CancellationToken.None);
        await WaitUntilAsync(() => pair.Server.Protocol.IncomingCallsInFlight == 1);
        var drained = pair.Server.Protocol.WhenIncomingCallsDrainedAsync(TimeoutToken);
        Assert.False(drained.IsCompleted);

        pair.Server.Protocol.RejectNewCalls();
        var rejected = await Assert.ThrowsAsync<RemoteInvocationException>(() => pair.Service.AddAsync(1, 2)).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.ServerShuttingDown, rejected.ErrorCode);

        pair.Server.Protocol.CancelIncomingCalls();
        var cancelled = await Assert.ThrowsAsync<RemoteInvocationException>(() => running).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.Cancelled, cancelled.ErrorCode);
        await drained.WaitAsync(TimeoutToken);
        Assert.Equal(0, pair.Server.Protocol.IncomingCallsInFlight);
    }

    [Fact]
    public async Task The_wire_is_plain_json_rpc_with_positional_or_named_params()
    {
        var (serverPipe, peer) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, Json()).AddService<ITestService>(new TestService());
        server.Start();

        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"Add","params":[40,2]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":"two","method":"Add","params":{"b":2,"a":5}}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":3,"method":"custom.name","params":[null]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":4,"method":"Throw","params":["boom"]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":5,"method":"Nope","params":[]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":6,"method":"Add","params":["x","y"]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","method":"Notify","params":["hi"]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":7,"method":"GetNotifications"}""");

        var replies = new Dictionary<string, JsonElement>();
        while (replies.Count < 7)
        {
            var reply = await ReceiveAsync(peer);
            replies[reply.GetProperty("id").ToString()] = reply;
        }

        Assert.Equal(42, replies["1"].GetProperty("result").GetInt32());
        Assert.Equal(7, replies["two"].GetProperty("result").GetInt32());
        Assert.Equal("<null>", replies["3"].GetProperty("result").GetString());
        var error = replies["4"].GetProperty("error");
        Assert.Equal(-32000, error.GetProperty("code").GetInt32());
        Assert.Equal("boom", error.GetProperty("message").GetString());
        Assert.Equal("System.InvalidOperationException", error.GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("data").GetProperty("stack").ValueKind);
        Assert.Equal(-32601, replies["5"].GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(-32602, replies["6"].GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal("hi", replies["7"].GetProperty("result")[0].GetString());
    }

    [Fact]
    public async Task A_cancel_request_from_a_raw_peer_cancels_the_server_method()
    {
        var (serverPipe, peer) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, Json()).AddService<ITestService>(new TestService());
        server.Start();

        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"WaitForCancellation","params":[]}""");
        await WaitUntilAsync(() => server.Protocol.IncomingCallsInFlight == 1);
        await SendAsync(peer, """{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}""");

        var reply = await ReceiveAsync(peer);
        Assert.Equal(-32800, reply.GetProperty("error").GetProperty("code").GetInt32());
        await SendAsync(peer, """{"jsonrpc":"2.0","id":2,"method":"WasLastWaitCancelled"}""");
        Assert.True((await ReceiveAsync(peer)).GetProperty("result").GetBoolean());
    }

    [Fact]
    public async Task A_request_reusing_the_id_of_a_running_call_is_rejected_and_the_running_call_answered_once()
    {
        var (serverPipe, peer) = FullDuplexStream.CreatePipePair();
        await using var server = RpcConnection.Create(serverPipe, Json());
        server.AddService<ITestService>(new TestService(server.CreateProxy<ICallback>()));
        server.Start();

        // Call 1 runs until this peer answers the callback it makes.
        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"CallBack","params":[10]}""");
        var callback = await ReceiveAsync(peer);
        Assert.Equal("OnValue", callback.GetProperty("method").GetString());

        // One duplicate of a method without a token, one of a method with one (StreamJsonRpc tracks those by id).
        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"Notify","params":["duplicate"]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"Add","params":[1,2]}""");
        for (var i = 0; i < 2; i++)
        {
            var rejected = await ReceiveAsync(peer);
            Assert.Equal(1, rejected.GetProperty("id").GetInt32());
            Assert.Equal(-32600, rejected.GetProperty("error").GetProperty("code").GetInt32());
            Assert.Contains("already in use", rejected.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        await SendAsync(peer, $$"""{"jsonrpc":"2.0","id":{{callback.GetProperty("id").GetRawText()}},"result":30}""");
        var answered = await ReceiveAsync(peer);
        Assert.Equal(1, answered.GetProperty("id").GetInt32());
        Assert.Equal(30, answered.GetProperty("result").GetInt32());

        // Answered, the id is free again; the duplicate Notify never ran.
        await SendAsync(peer, """{"jsonrpc":"2.0","id":1,"method":"Add","params":[2,2]}""");
        await SendAsync(peer, """{"jsonrpc":"2.0","id":2,"method":"GetNotifications"}""");
        var reused = await ReceiveAsync(peer);
        Assert.Equal(1, reused.GetProperty("id").GetInt32());
        Assert.Equal(4, reused.GetProperty("result").GetInt32());
        var notifications = await ReceiveAsync(peer);
        Assert.Equal(2, notifications.GetProperty("id").GetInt32());
        Assert.Equal(0, notifications.GetProperty("result").GetArrayLength());
        await WaitUntilAsync(() => server.Protocol.IncomingCallsInFlight == 0);
        Assert.False(server.Completion.IsCompleted);
    }

    private static async Task SendAsync(IDuplexPipe peer, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        await peer.Output.WriteAsync(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"));
        await peer.Output.WriteAsync(body);
    }

    private async Task<JsonElement> ReceiveAsync(IDuplexPipe peer)
    {
        var stream = peer.Input;
        while (true)
        {
            var result = await stream.ReadAsync(TimeoutToken);
            var buffer = result.Buffer;
            var text = Encoding.UTF8.GetString(buffer.ToArray());
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd >= 0)
            {
                var lengthLine = text[..headerEnd].Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.Ordinal));
                var length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var bodyStart = Encoding.UTF8.GetByteCount(text[..(headerEnd + 4)]);
                if (buffer.Length >= bodyStart + length)
                {
                    var body = buffer.Slice(bodyStart, length).ToArray();
                    stream.AdvanceTo(buffer.GetPosition(bodyStart + length));
                    return JsonDocument.Parse(body).RootElement.Clone();
                }
            }

            Assert.False(result.IsCompleted, "The server closed the connection.");
            stream.AdvanceTo(buffer.Start, buffer.End);
        }
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
