using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Conformance;

namespace Rpc.Tests.Client;

/// <summary>
/// An <see cref="RpcClient"/> whose server process is killed and restarted on the same endpoint while it calls in a
/// loop, on every endpoint transport and both protocols. The server appends each call's unique key to a journal file,
/// so the test counts how many times each call ran across both server processes.
/// </summary>
public sealed class ReconnectTests : TestBase
{
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(30);

    public static TheoryData<string, RpcProtocol> Matrix => ConformanceTests.Matrix;

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_client_calling_in_a_loop_survives_a_server_restart(string transport, RpcProtocol protocol)
    {
        var endpoint = TestEndpoints.Create(transport, fixedPort: true);
        var journal = Path.Combine(Path.GetTempPath(), $"rpc-journal-{Guid.NewGuid():N}.txt");
        var hostArguments = TestEndpoints.HostArguments(transport);
        var protocolArgument = protocol == RpcProtocol.JsonRpc ? "json" : "binary";
        var reconnectedHookRuns = 0;
        var reconnects = 0;
        var waitingClientFailedAttempts = 0;
        try
        {
            var first = await ServerProcess.StartAsync([endpoint], protocolArgument, hostArguments, TimeoutToken);
            ServerProcess? second = null;
            try
            {
                await using var client = new RpcClient(first.Endpoints[0], Options(transport, protocol, waitForReady: false, () => Interlocked.Increment(ref reconnectedHookRuns)));
                await using var waitingClient = new RpcClient(first.Endpoints[0], Options(transport, protocol, waitForReady: true, onReconnected: null))
                {
                    BackoffStarted = (_, _) => Interlocked.Increment(ref waitingClientFailedAttempts),
                };
                client.StateChanged += (_, change) =>
                {
                    if (change is { PreviousState: RpcClientState.Reconnecting, State: RpcClientState.Connected })
                    {
                        Interlocked.Increment(ref reconnects);
                    }
                };
                await client.ConnectAsync(TimeoutToken);
                await waitingClient.ConnectAsync(TimeoutToken);
                var service = client.GetProxy<ITestService>();
                Assert.Equal(10, await service.CallBackAsync(5).WaitAsync(CallBound, TimeoutToken));

                using var stopLoop = new CancellationTokenSource();
                var loop = CallInALoopAsync(service, journal, stopLoop.Token);

                // Two calls the kill catches in flight: each has run (its key is in the journal) and is still sleeping.
                var idempotent = service.RecordIdempotentAsync(journal, "in-flight-idempotent", 3000);
                var plain = service.RecordAsync(journal, "in-flight-plain", 60_000);
                await WaitUntilAsync(() => Runs(journal, "in-flight-idempotent") == 1 && Runs(journal, "in-flight-plain") == 1);
                await WaitUntilAsync(() => loop.Succeeded >= 3);

                first.Kill();
                await Assert.ThrowsAsync<ConnectionLostException>(() => plain.WaitAsync(CallBound, TimeoutToken));
                // A server being killed may still complete connects queued in its listen backlog, then reset them: the
                // client can reconnect to the dying server and lose that connection at once. Once an attempt has been
                // refused, the old listener is gone and the next connection is to the new server.
                await WaitUntilAsync(() => client.State != RpcClientState.Connected && Volatile.Read(ref waitingClientFailedAttempts) > 0);

                // Made while the server is down: fails fast on one client, waits for the next server on the other.
                await Assert.ThrowsAsync<ConnectionLostException>(() => service.AddAsync(1, 1).WaitAsync(CallBound, TimeoutToken));
                var waited = waitingClient.GetProxy<ITestService>().RecordAsync(journal, "made-while-down", 0);

                second = await ServerProcess.StartAsync([endpoint], protocolArgument, hostArguments, TimeoutToken);
                Assert.Equal(second.ProcessId, await idempotent.WaitAsync(CallBound, TimeoutToken));
                Assert.Equal(second.ProcessId, await waited.WaitAsync(CallBound, TimeoutToken));
                await WaitUntilAsync(() => client.State == RpcClientState.Connected);
                Assert.InRange(Volatile.Read(ref reconnects), 1, int.MaxValue);
                Assert.Equal(Volatile.Read(ref reconnects), Volatile.Read(ref reconnectedHookRuns));

                // The configure callback served ICallback again on the new connection.
                Assert.Equal(14, await service.CallBackAsync(7).WaitAsync(CallBound, TimeoutToken));
                Assert.Equal(second.ProcessId, await service.GetProcessIdAsync().WaitAsync(CallBound, TimeoutToken));

                var succeededBeforeRestart = loop.Succeeded;
                await WaitUntilAsync(() => loop.Succeeded >= succeededBeforeRestart + 3);
                await stopLoop.CancelAsync();
                await loop.Task.WaitAsync(CallBound, TimeoutToken);

                // None ran twice unless idempotent; every call that succeeded ran exactly once.
                Assert.Equal(1, Runs(journal, "in-flight-plain"));
                Assert.Equal(2, Runs(journal, "in-flight-idempotent"));
                Assert.Equal(1, Runs(journal, "made-while-down"));
                var runs = File.ReadAllLines(journal).GroupBy(key => key).ToDictionary(g => g.Key, g => g.Count());
                Assert.All(runs.Where(r => r.Key.StartsWith("loop-", StringComparison.Ordinal)), r => Assert.Equal(1, r.Value));
                Assert.All(loop.SucceededKeys, key => Assert.Equal(1, runs.GetValueOrDefault(key)));
                Assert.True(loop.Lost > 0 || loop.Succeeded > succeededBeforeRestart, "the loop kept calling across the restart");
            }
            finally
            {
                first.Kill();
                await first.DisposeAsync();
                if (second is not null)
                {
                    await second.DisposeAsync();
                }
            }
        }
        finally
        {
            File.Delete(journal);
        }
    }

    private RpcClientOptions Options(string transport, RpcProtocol protocol, bool waitForReady, Action? onReconnected) => new()
    {
        Connection = { Protocol = protocol, Transport = TestEndpoints.ClientTransport(transport) },
        Configure = connection => connection.AddService<ICallback>(new DoublingCallback()),
        Reconnected = onReconnected is null ? null : (_, _) =>
        {
            onReconnected();
            return Task.CompletedTask;
        },
        Reconnect = { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(250) },
        WaitForReady = waitForReady,

        // Room for the extra losses of connections made to the dying server (see above).
        MaxIdempotentAttempts = 5,
    };

    private static int Runs(string journal, string key) =>
        File.Exists(journal) ? File.ReadAllLines(journal).Count(line => line == key) : 0;

    /// <summary>
    /// Calls with a fresh key each time until stopped. Each call is bounded, and must succeed or fail with
    /// <see cref="ConnectionLostException"/>: anything else fails the test.
    /// </summary>
    private static CallLoop CallInALoopAsync(ITestService service, string journal, CancellationToken stop)
    {
        var loop = new CallLoop();
        loop.Task = RunAsync(loop);
        return loop;

        async Task RunAsync(CallLoop loop)
        {
            // Off the test's thread at once, so the test goes on while the loop calls.
            await Task.Yield();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = $"loop-{i}";
                try
                {
                    await service.RecordAsync(journal, key, 0).WaitAsync(CallBound, CancellationToken.None);
                    loop.SucceededKeys.Add(key);
                }
                catch (ConnectionLostException)
                {
                    Interlocked.Increment(ref loop.Lost);

                    // Fail-fast calls return at once while the server is down; don't spin a core the servers need.
                    await Task.Delay(5, CancellationToken.None);
                }
            }
        }
    }

    private sealed class CallLoop
    {
        public int Lost;

        public ConcurrentBag<string> SucceededKeys { get; } = [];

        public int Succeeded => SucceededKeys.Count;

        public Task Task { get; set; } = Task.CompletedTask;
    }

    private sealed class DoublingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 2);
    }
}
