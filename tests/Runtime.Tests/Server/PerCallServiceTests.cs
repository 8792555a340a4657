using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Server;

[RpcContract]
public interface IPerCallProbe
{
    Task<int> GetInstanceAsync();

    ValueTask<int> EchoAsync(int value);

    Task FailAsync(string message);

    Task<int> ThrowBeforeReturningAsync();

    Task WaitForCancellationAsync(CancellationToken cancellationToken);

    IAsyncEnumerable<int> CountAsync(int count);

    IAsyncEnumerable<int> EndlessAsync(CancellationToken cancellationToken);

    void Note(int value);
}

/// <summary><see cref="IPerCallProbe"/>'s wire names with the wrong parameter types or kinds: a peer built from another contract.</summary>
[RpcContract]
public interface IPerCallMismatch
{
    ValueTask<int> EchoAsync(string value);

    Task<int> CountAsync(int count);

    IAsyncEnumerable<int> GetInstanceAsync();
}

/// <summary>
/// A plain <see cref="RpcServer"/> serving a contract per call (<see cref="IRpcServiceActivator{TContract}"/>) over a
/// Unix socket: every call gets its own implementation, released exactly once whatever way the call ends.
/// </summary>
public sealed class PerCallServiceTests : TestBase
{
    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task Each_call_gets_a_new_implementation_released_before_its_reply(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, protocolName);
        var probe = client.CreateProxy<IPerCallProbe>();

        var first = await probe.GetInstanceAsync().WaitAsync(TimeoutToken);
        var second = await probe.GetInstanceAsync().WaitAsync(TimeoutToken);
        Assert.NotEqual(first, second);
        Assert.Equal(7, await probe.EchoAsync(7).AsTask().WaitAsync(TimeoutToken));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => probe.GetInstanceAsync())).WaitAsync(TimeoutToken);
        Assert.Equal(8, concurrent.Distinct().Count());

        // A request's implementation is released before its reply leaves.
        activator.AssertEachReleasedOnce(expectedCalls: 11);
        Assert.All(activator.Created.Values, created => Assert.Same(Assert.Single(server.Connections), created.Connection));
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_method_that_throws_is_released_once_whether_it_throws_before_or_after_returning(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, protocolName);
        var probe = client.CreateProxy<IPerCallProbe>();

        var failed = await Assert.ThrowsAsync<RemoteInvocationException>(() => probe.FailAsync("async failure")).WaitAsync(TimeoutToken);
        Assert.Contains("async failure", failed.Message, StringComparison.Ordinal);
        var thrown = await Assert.ThrowsAsync<RemoteInvocationException>(() => probe.ThrowBeforeReturningAsync()).WaitAsync(TimeoutToken);
        Assert.Contains("thrown before returning", thrown.Message, StringComparison.Ordinal);

        activator.AssertEachReleasedOnce(expectedCalls: 2);
        Assert.Equal(3, await probe.EchoAsync(3).AsTask().WaitAsync(TimeoutToken));
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_cancelled_call_and_a_notification_are_released_once(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, protocolName);
        var probe = client.CreateProxy<IPerCallProbe>();

        using var cancellation = new CancellationTokenSource();
        var waiting = probe.WaitForCancellationAsync(cancellation.Token);
        var serving = await ServingAsync(activator, nameof(IPerCallProbe.WaitForCancellationAsync));
        Assert.Equal(0, serving.Releases);
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).WaitAsync(TimeoutToken);
        await WaitUntilAsync(() => serving.Releases == 1);

        probe.Note(42);
        var noted = await ServingAsync(activator, nameof(IPerCallProbe.Note));
        await WaitUntilAsync(() => noted.Releases == 1);
        Assert.Equal(42, noted.Noted);

        // Whatever arrives late (a second release would show here).
        Assert.Equal(5, await probe.EchoAsync(5).AsTask().WaitAsync(TimeoutToken));
        activator.AssertEachReleasedOnce(expectedCalls: 3);
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_stream_is_released_once_when_it_ends_or_the_client_abandons_it(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, protocolName);
        var probe = client.CreateProxy<IPerCallProbe>();

        var items = new List<int>();
        await foreach (var item in probe.CountAsync(5).WithCancellation(TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal([0, 1, 2, 3, 4], items);
        var counted = Assert.Single(activator.Created.Values);
        Assert.Equal(1, counted.Releases);

        await foreach (var item in probe.EndlessAsync(TimeoutToken).WithCancellation(TimeoutToken))
        {
            if (item == 3)
            {
                break;
            }
        }

        var abandoned = await ServingAsync(activator, nameof(IPerCallProbe.EndlessAsync));
        await WaitUntilAsync(() => abandoned.Releases == 1);
        Assert.Equal(9, await probe.EchoAsync(9).AsTask().WaitAsync(TimeoutToken));
        activator.AssertEachReleasedOnce(expectedCalls: 3);
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task Calls_and_streams_running_when_the_connection_closes_are_released_once(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        var client = await ConnectAsync(server, protocolName);
        var probe = client.CreateProxy<IPerCallProbe>();

        var waiting = probe.WaitForCancellationAsync(CancellationToken.None);
        var stream = probe.EndlessAsync(CancellationToken.None).GetAsyncEnumerator(TimeoutToken);
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(TimeoutToken));
        var call = await ServingAsync(activator, nameof(IPerCallProbe.WaitForCancellationAsync));
        var streaming = await ServingAsync(activator, nameof(IPerCallProbe.EndlessAsync));

        await client.DisposeAsync();
        await Assert.ThrowsAsync<ConnectionLostException>(() => waiting).WaitAsync(TimeoutToken);
        await WaitUntilAsync(() => call.Releases == 1 && streaming.Releases == 1);
        await WaitUntilAsync(() => server.Connections.Count == 0);
        activator.AssertEachReleasedOnce(expectedCalls: 2);
        await stream.DisposeAsync();
    }

    [Theory]
    [InlineData("Binary")]
    [InlineData("JsonRpc")]
    public async Task A_call_whose_arguments_cannot_be_read_releases_what_it_activated(string protocolName)
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, protocolName);

        var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => client.CreateProxy<IPerCallMismatch>().EchoAsync("one").AsTask()).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.InvalidArguments, error.ErrorCode);

        // The binary stub activates before it reads the arguments; StreamJsonRpc binds them before it calls anything.
        Assert.Equal(4, await client.CreateProxy<IPerCallProbe>().EchoAsync(4).AsTask().WaitAsync(TimeoutToken));
        activator.AssertEachReleasedOnce(expectedCalls: protocolName == "Binary" ? 2 : 1);
    }

    [Fact]
    public async Task A_stream_called_as_a_request_and_a_request_called_as_a_stream_are_refused_and_released()
    {
        var activator = new CountingActivator();
        await using var server = await ListenAsync(activator);
        await using var client = await ConnectAsync(server, "Binary");
        var mismatch = client.CreateProxy<IPerCallMismatch>();

        var asRequest = await Assert.ThrowsAsync<RemoteInvocationException>(() => mismatch.CountAsync(3)).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.InvalidRequest, asRequest.ErrorCode);
        var asStream = await Assert.ThrowsAsync<RemoteInvocationException>(async () =>
        {
            await foreach (var _ in mismatch.GetInstanceAsync().WithCancellation(TimeoutToken))
            {
            }
        }).WaitAsync(TimeoutToken);
        Assert.Equal(RpcErrorCode.InvalidRequest, asStream.ErrorCode);

        await WaitUntilAsync(() => activator.Created.Values.All(probe => probe.Releases > 0));
        activator.AssertEachReleasedOnce(expectedCalls: 2);
    }

    [Fact]
    public async Task An_activator_passed_without_its_contract_as_the_type_argument_is_refused_with_a_hint()
    {
        await using var server = new RpcServer();

        // C# infers AddService<CountingActivator>(implementation): the activator would be served as a contract.
        var error = Assert.Throws<InvalidOperationException>(() => server.AddService(new CountingActivator()));

        Assert.Contains("is not an interface", error.Message, StringComparison.Ordinal);
        Assert.Contains("IRpcServiceActivator", error.Message, StringComparison.Ordinal);
    }

    private async Task<RpcServer> ListenAsync(CountingActivator activator)
    {
        var server = new RpcServer(new RpcServerOptions { Protocols = [RpcProtocol.Binary, RpcProtocol.JsonRpc] })
            .AddService<IPerCallProbe>(activator);
        await server.ListenAsync(TestEndpoints.Create("unix"), TimeoutToken);
        return server;
    }

    private Task<RpcConnection> ConnectAsync(RpcServer server, string protocolName) =>
        RpcConnection.ConnectAsync(server.Endpoints[0], new RpcConnectionOptions { Protocol = TestProtocols.Named(protocolName) }, TimeoutToken);

    /// <summary>Waits for the implementation serving the call of <paramref name="method"/> (each call has its own).</summary>
    private async Task<PerCallProbe> ServingAsync(CountingActivator activator, string method)
    {
        PerCallProbe? found = null;
        await WaitUntilAsync(() => (found = activator.Created.Values.FirstOrDefault(p => p.Method == method)) is not null);
        return found!;
    }

    private sealed class CountingActivator : IRpcServiceActivator<IPerCallProbe>
    {
        private int _lastId;

        public ConcurrentDictionary<int, PerCallProbe> Created { get; } = new();

        public RpcActivatorHandle<IPerCallProbe> Create(RpcConnection connection)
        {
            var probe = new PerCallProbe(Interlocked.Increment(ref _lastId), connection);
            Created[probe.Id] = probe;
            return new RpcActivatorHandle<IPerCallProbe>(probe, probe.Id);
        }

        public ValueTask ReleaseAsync(RpcActivatorHandle<IPerCallProbe> service)
        {
            var probe = Created[(int)service.State!];
            Assert.Same(probe, service.Instance);
            Interlocked.Increment(ref probe.ReleaseCount);
            return ValueTask.CompletedTask;
        }

        public void AssertEachReleasedOnce(int expectedCalls)
        {
            Assert.Equal(expectedCalls, Created.Count);
            Assert.All(Created.Values, probe => Assert.True(probe.Releases == 1, $"{probe.Method} (instance {probe.Id}) was released {probe.Releases} times."));
        }
    }

    private sealed class PerCallProbe(int id, RpcConnection connection) : IPerCallProbe
    {
        public int ReleaseCount;

        public int Id { get; } = id;

        public RpcConnection Connection { get; } = connection;

        public int Releases => Volatile.Read(ref ReleaseCount);

        public string? Method { get; private set; }

        public int Noted { get; private set; }

        public Task<int> GetInstanceAsync()
        {
            Serve();
            return Task.FromResult(Id);
        }

        public ValueTask<int> EchoAsync(int value)
        {
            Serve();
            return ValueTask.FromResult(value);
        }

        public async Task FailAsync(string message)
        {
            Serve();
            await Task.Yield();
            throw new InvalidOperationException(message);
        }

        public Task<int> ThrowBeforeReturningAsync()
        {
            Serve();
            throw new InvalidOperationException("thrown before returning");
        }

        public async Task WaitForCancellationAsync(CancellationToken cancellationToken)
        {
            Serve();
            await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, cancellationToken);
        }

        public async IAsyncEnumerable<int> CountAsync(int count)
        {
            Serve();
            for (var i = 0; i < count; i++)
            {
                await Task.Yield();
                yield return i;
            }
        }

        public async IAsyncEnumerable<int> EndlessAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Serve();
            for (var i = 0; ; i++)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                yield return i;
            }
        }

        public void Note(int value)
        {
            Serve();
            Noted = value;
        }

        private void Serve([CallerMemberName] string method = "")
        {
            Assert.Equal(0, Releases);
            Assert.Null(Method);
            Method = method;
        }
    }
}
