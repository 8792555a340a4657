using System;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Nerdbank.Streams;

namespace Rpc.Tests.Deadlines;

/// <summary>Call deadlines on in-memory pipes, on a fake clock: no test waits in real time for a deadline.</summary>
public sealed class DeadlineTests : TestBase
{
    private readonly FakeTimeProvider _clock = new();

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task DefaultCallTimeout_fails_the_call_with_RpcTimeoutException_at_the_deadline(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var pair = DeadlinePair.Create(protocol, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(2) });

        var call = pair.Proxy.WaitAsync(CancellationToken.None);
        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(1));
        Assert.False(call.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        var error = await Assert.ThrowsAsync<RpcTimeoutException>(() => call).WaitAsync(TimeoutToken);
        Assert.IsAssignableFrom<TimeoutException>(error);
        Assert.Equal(RpcErrorCode.DeadlineExceeded, error.ErrorCode);
        Assert.Contains("Wait", error.Message, StringComparison.Ordinal);

        // The peer is told to stop (binary: the deadline it was sent; JSON-RPC: the cancellation sent at the deadline).
        await pair.ServerService.TokenFired.WaitAsync(TimeoutToken);
        Assert.Equal(7, await pair.Proxy.EchoAsync(7).WaitAsync(TimeoutToken));
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task RpcTimeout_attribute_wins_over_the_default_and_a_scope_wins_over_both(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var pair = DeadlinePair.Create(protocol, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(1) });

        var attributed = pair.Proxy.WaitWithAttributeAsync(CancellationToken.None);
        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromSeconds(4.999));
        Assert.False(attributed.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<RpcTimeoutException>(() => attributed).WaitAsync(TimeoutToken);

        pair.ServerService.Reset();
        Task<int> scoped;
        using (RpcCallOptions.Timeout(TimeSpan.FromMilliseconds(300)))
        {
            scoped = pair.Proxy.WaitWithAttributeAsync(CancellationToken.None);
        }

        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(scoped.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<RpcTimeoutException>(() => scoped).WaitAsync(TimeoutToken);

        // Outside the scope the connection's default holds again.
        pair.ServerService.Reset();
        var unscoped = pair.Proxy.WaitAsync(CancellationToken.None);
        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(unscoped.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<RpcTimeoutException>(() => unscoped).WaitAsync(TimeoutToken);
    }

    [Fact]
    public async Task An_infinite_scope_removes_the_timeout_and_a_deadline_scope_caps_it()
    {
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(1) });

        Task<int> unbounded;
        using (RpcCallOptions.Timeout(System.Threading.Timeout.InfiniteTimeSpan))
        {
            unbounded = pair.Proxy.WaitAsync(CancellationToken.None);
        }

        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.False(unbounded.IsCompleted);
        Assert.False(pair.ServerService.TokenFired.IsCompleted);

        pair.ServerService.Reset();
        Task<int> capped;
        using (RpcCallOptions.Deadline(_clock.GetUtcNow() + TimeSpan.FromMilliseconds(200)))
        {
            capped = pair.Proxy.WaitWithAttributeAsync(CancellationToken.None);
        }

        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAsync<RpcTimeoutException>(() => capped).WaitAsync(TimeoutToken);
    }

    [Fact]
    public async Task The_server_methods_token_fires_at_the_callers_deadline_and_the_error_says_DeadlineExceeded()
    {
        // The client's clock stands still: only the server's reaching the deadline can end the call.
        var clientClock = new FakeTimeProvider();
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock, client: new() { TimeProvider = clientClock });

        Task<int> call;
        using (RpcCallOptions.Timeout(TimeSpan.FromSeconds(10)))
        {
            call = pair.Proxy.WaitAsync(CancellationToken.None);
        }

        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(TimeSpan.TicksPerMicrosecond));
        Assert.False(pair.ServerService.TokenFired.IsCompleted);
        _clock.Advance(TimeSpan.FromTicks(TimeSpan.TicksPerMicrosecond));
        Assert.True(pair.ServerService.TokenFired.IsCompleted);

        var error = await Assert.ThrowsAsync<RpcTimeoutException>(() => call).WaitAsync(TimeoutToken);
        var remote = Assert.IsType<RemoteInvocationException>(error.InnerException);
        Assert.Equal(RpcErrorCode.DeadlineExceeded, remote.ErrorCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_call_made_while_serving_inherits_the_deadline_only_when_propagation_is_on(bool propagate)
    {
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock, server: new() { PropagateDeadlines = propagate });

        Task<int> call;
        using (RpcCallOptions.Timeout(TimeSpan.FromSeconds(3)))
        {
            call = pair.Proxy.RelayAsync(CancellationToken.None);
        }

        // The relayed call runs on the client's service; the server's relay call waits for it.
        await pair.ClientService.Started.WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAsync<RpcTimeoutException>(() => call).WaitAsync(TimeoutToken);
        await pair.ServerService.TokenFired.WaitAsync(TimeoutToken);
        if (propagate)
        {
            await pair.ClientService.TokenFired.WaitAsync(TimeoutToken);
        }
        else
        {
            // Nothing else could fire it: the relay did not pass its token on.
            Assert.False(pair.ClientService.TokenFired.IsCompleted);
        }
    }

    [Fact]
    public async Task The_callers_own_cancellation_stays_OperationCanceledException_under_a_deadline()
    {
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(5) });
        using var cancel = new CancellationTokenSource();

        var call = pair.Proxy.WaitAsync(cancel.Token);
        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        cancel.Cancel();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeoutToken);
        Assert.Equal(cancel.Token, error.CancellationToken);

        // The deadline timer was released with the call: reaching it later changes nothing.
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(3, await pair.Proxy.EchoAsync(3).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task A_lost_connection_stays_ConnectionLostException_under_a_deadline()
    {
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(5) });

        var call = pair.Proxy.WaitAsync(CancellationToken.None);
        await pair.ServerService.Started.WaitAsync(TimeoutToken);
        await pair.Server.DisposeAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => call).WaitAsync(TimeoutToken);
        _clock.Advance(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_deadline_bounds_the_whole_stream(string protocolName)
    {
        var protocol = TestProtocols.Named(protocolName);
        await using var pair = DeadlinePair.Create(protocol, _clock, client: new() { DefaultCallTimeout = TimeSpan.FromSeconds(2) });

        await using var items = pair.Proxy.TickAsync(CancellationToken.None).GetAsyncEnumerator(TimeoutToken);
        Assert.True(await items.MoveNextAsync().AsTask().WaitAsync(TimeoutToken));
        Assert.Equal(1, items.Current);
        var next = items.MoveNextAsync().AsTask();
        _clock.Advance(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAsync<RpcTimeoutException>(() => next).WaitAsync(TimeoutToken);
        if (protocol == RpcProtocol.Binary)
        {
            await pair.ServerService.TokenFired.WaitAsync(TimeoutToken);
        }
    }

    [Fact]
    public async Task A_scope_deadline_already_past_fails_the_call_without_sending_it()
    {
        await using var pair = DeadlinePair.Create(RpcProtocol.Binary, _clock);

        using (RpcCallOptions.Deadline(_clock.GetUtcNow() - TimeSpan.FromSeconds(1)))
        {
            await Assert.ThrowsAsync<RpcTimeoutException>(() => pair.Proxy.WaitAsync(CancellationToken.None)).WaitAsync(TimeoutToken);
        }

        Assert.False(pair.ServerService.Started.IsCompleted);
    }

    [Fact]
    public void Invalid_timeouts_are_refused_where_they_are_set()
    {
        var (pipe, _) = FullDuplexStream.CreatePipePair();

        Assert.Throws<ArgumentOutOfRangeException>(() => RpcConnection.Create(pipe, new RpcConnectionOptions { DefaultCallTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => RpcCallOptions.Timeout(TimeSpan.FromMilliseconds(-5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rpc.Runtime.RpcMethod("M", Rpc.Runtime.RpcMethodKind.Request, [], acceptsCancellation: false, timeoutMilliseconds: -1));
    }

    /// <summary>A client and a server, each serving <see cref="DeadlineService"/> (the server's relays to the client's).</summary>
    private sealed class DeadlinePair : IAsyncDisposable
    {
        private DeadlinePair(RpcConnection server, RpcConnection client, DeadlineService serverService, DeadlineService clientService)
        {
            Server = server;
            Client = client;
            ServerService = serverService;
            ClientService = clientService;
            Proxy = client.CreateProxy<IDeadlineService>();
        }

        public RpcConnection Server { get; }

        public RpcConnection Client { get; }

        public DeadlineService ServerService { get; }

        public DeadlineService ClientService { get; }

        public IDeadlineService Proxy { get; }

        public static DeadlinePair Create(RpcProtocol protocol, TimeProvider clock, RpcConnectionOptions? client = null, RpcConnectionOptions? server = null)
        {
            var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
            server ??= new RpcConnectionOptions();
            server.Protocol = protocol;
            server.TimeProvider = clock;
            client ??= new RpcConnectionOptions();
            client.Protocol = protocol;
            if (client.TimeProvider == TimeProvider.System)
            {
                client.TimeProvider = clock;
            }

            var serverConnection = RpcConnection.Create(serverPipe, server);
            var serverService = new DeadlineService(() => serverConnection.CreateProxy<IDeadlineService>());
            serverConnection.AddService<IDeadlineService>(serverService);
            var clientConnection = RpcConnection.Create(clientPipe, client);
            var clientService = new DeadlineService();
            clientConnection.AddService<IDeadlineService>(clientService);
            serverConnection.Start();
            clientConnection.Start();
            return new DeadlinePair(serverConnection, clientConnection, serverService, clientService);
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
