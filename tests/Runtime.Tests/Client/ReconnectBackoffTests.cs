using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;

namespace Rpc.Tests.Client;

/// <summary>The reconnect policy and the client's behaviour while it has no server, on a fake clock: nothing here waits in real time.</summary>
public sealed class ReconnectBackoffTests : TestBase
{
    [Fact]
    public void Delays_grow_by_the_multiplier_up_to_the_maximum_and_jitter_spreads_them()
    {
        var policy = new RpcReconnectPolicy { InitialDelay = TimeSpan.FromSeconds(1), Multiplier = 2, MaxDelay = TimeSpan.FromSeconds(10), Jitter = 0.2 };

        Assert.Equal(TimeSpan.FromSeconds(1), policy.GetDelay(1, unitRandom: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(2), policy.GetDelay(2, unitRandom: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(8), policy.GetDelay(4, unitRandom: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(10), policy.GetDelay(5, unitRandom: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(10), policy.GetDelay(10_000, unitRandom: 0.5));
        Assert.Equal(TimeSpan.FromSeconds(0.8), policy.GetDelay(1, unitRandom: 0));
        Assert.Equal(TimeSpan.FromSeconds(1.2), policy.GetDelay(1, unitRandom: 1));
        Assert.Equal(TimeSpan.FromSeconds(8), policy.GetDelay(5, unitRandom: 0));
        Assert.Equal(TimeSpan.FromSeconds(10), policy.GetDelay(5, unitRandom: 1));
    }

    [Fact]
    public void Out_of_range_settings_are_refused_when_the_client_is_created()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RpcClient(NoServer(), new RpcClientOptions { Reconnect = { Multiplier = 0.5 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RpcClient(NoServer(), new RpcClientOptions { Reconnect = { Jitter = 1.5 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RpcClient(NoServer(), new RpcClientOptions { Reconnect = { MaxAttempts = 0 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RpcClient(NoServer(), new RpcClientOptions { MaxIdempotentAttempts = 0 }));
        Assert.Throws<FormatException>(() => new RpcClient("not-an-endpoint"));
    }

    [Fact]
    public async Task An_endpoint_no_transport_serves_is_not_retried()
    {
        await using var client = new RpcClient("nonsense://x", new RpcClientOptions { Connection = { TimeProvider = new FakeTimeProvider() } });
        var gaveUp = await Assert.ThrowsAsync<ConnectionLostException>(() => client.ConnectAsync(TimeoutToken));
        Assert.IsType<NotSupportedException>(gaveUp.InnerException);
        Assert.Equal(RpcClientState.Disconnected, client.State);
    }

    [Fact]
    public async Task Each_attempt_waits_its_backoff_on_the_clock_and_the_client_gives_up_after_max_attempts()
    {
        var clock = new FakeTimeProvider();
        var backoffs = new ConcurrentQueue<(int Failures, TimeSpan Delay)>();
        var states = new ConcurrentQueue<RpcClientState>();
        var options = new RpcClientOptions
        {
            Connection = { TimeProvider = clock },
            Reconnect = { InitialDelay = TimeSpan.FromSeconds(10), Multiplier = 2, MaxDelay = TimeSpan.FromSeconds(25), Jitter = 0, MaxAttempts = 4 },
        };
        await using var client = new RpcClient(NoServer(), options) { BackoffStarted = (failures, delay) => backoffs.Enqueue((failures, delay)) };
        client.StateChanged += (_, change) => states.Enqueue(change.State);

        var connect = client.ConnectAsync(TimeoutToken);
        await WaitUntilAsync(() => backoffs.Count == 1);
        Assert.Equal((1, TimeSpan.FromSeconds(10)), backoffs.ToArray()[0]);

        // Short of the delay, the timer cannot fire: no second attempt.
        clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.Single(backoffs);
        Assert.False(connect.IsCompleted);

        clock.Advance(TimeSpan.FromTicks(1));
        await WaitUntilAsync(() => backoffs.Count == 2);
        clock.Advance(TimeSpan.FromSeconds(20));
        await WaitUntilAsync(() => backoffs.Count == 3);
        Assert.Equal([(1, TimeSpan.FromSeconds(10)), (2, TimeSpan.FromSeconds(20)), (3, TimeSpan.FromSeconds(25))], backoffs.ToArray());
        Assert.False(connect.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(25));
        var gaveUp = await Assert.ThrowsAsync<ConnectionLostException>(() => connect.WaitAsync(TimeoutToken));
        Assert.Contains("4 failed connection attempt(s)", gaveUp.Message, StringComparison.Ordinal);
        Assert.NotNull(gaveUp.InnerException);
        Assert.Equal(3, backoffs.Count);
        Assert.Equal(RpcClientState.Disconnected, client.State);
        Assert.Equal([RpcClientState.Connecting, RpcClientState.Disconnected], states.ToArray());
    }

    [Fact]
    public async Task Without_a_connection_calls_fail_fast_or_wait_for_ready_bounded_by_their_token()
    {
        var clock = new FakeTimeProvider();
        var endpoint = NoServer();
        await using var failFast = new RpcClient(endpoint, new RpcClientOptions { Connection = { TimeProvider = clock } });
        await using var waiting = new RpcClient(endpoint, new RpcClientOptions { Connection = { TimeProvider = clock }, WaitForReady = true });

        // The first call starts the client connecting; with no server it backs off on the fake clock for ever.
        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => failFast.GetProxy<ITestService>().AddAsync(1, 2).WaitAsync(TimeoutToken));
        Assert.Contains("was not sent", lost.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ConnectionLostException>(() => failFast.GetProxy<ITestService>().RecordIdempotentAsync("unused", "k", 0).WaitAsync(TimeoutToken));

        using var bounded = new CancellationTokenSource();
        var call = waiting.GetProxy<ITestService>().AddAsync(1, 2, bounded.Token);
        await WaitUntilAsync(() => waiting.State == RpcClientState.Connecting);
        Assert.False(call.IsCompleted);
        await bounded.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeoutToken));

        // A notification without a connection is dropped, never an exception.
        failFast.GetProxy<ITestService>().Notify("dropped");
    }

    [Fact]
    public async Task A_call_waiting_for_the_connection_fails_at_its_deadline()
    {
        var clock = new FakeTimeProvider();
        await using var client = new RpcClient(NoServer(), new RpcClientOptions
        {
            WaitForReady = true,
            Connection = { TimeProvider = clock, DefaultCallTimeout = TimeSpan.FromSeconds(2) },
        });

        var call = client.GetProxy<ITestService>().AddAsync(1, 2);
        await WaitUntilAsync(() => client.State == RpcClientState.Connecting);
        clock.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(call.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(0.1));

        var timeout = await Assert.ThrowsAsync<RpcTimeoutException>(() => call.WaitAsync(TimeoutToken));
        Assert.Equal(RpcErrorCode.DeadlineExceeded, timeout.ErrorCode);
    }

    [Fact]
    public async Task Disposing_fails_waiting_and_later_calls_with_ObjectDisposedException()
    {
        var client = new RpcClient(NoServer(), new RpcClientOptions { Connection = { TimeProvider = new FakeTimeProvider() }, WaitForReady = true });
        var proxy = client.GetProxy<ITestService>();
        var waiting = proxy.AddAsync(1, 2);
        var states = new ConcurrentQueue<RpcClientState>();
        client.StateChanged += (_, change) => states.Enqueue(change.State);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TimeoutToken));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => proxy.AddAsync(1, 2).WaitAsync(TimeoutToken));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ConnectAsync(TimeoutToken));
        Assert.Equal(RpcClientState.Disposed, client.State);
        Assert.Equal(RpcClientState.Disposed, states.ToArray()[^1]);
        Assert.Null(client.Connection);
    }

    /// <summary>A Unix socket path nobody listens on: every connection attempt fails at once.</summary>
    private static string NoServer() => $"unix://{Path.Combine(Path.GetTempPath(), $"rpc-test-{Guid.NewGuid():N}.sock")}";
}
