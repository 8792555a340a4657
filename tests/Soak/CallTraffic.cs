using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests;

namespace Rpc.Soak;

/// <summary>
/// Opens a connection to the server process, runs a few rounds of every kind of call on it, closes it, and again,
/// until stopped. Every answer is checked; every expected failure must be the documented typed error.
/// </summary>
internal sealed class CallTraffic(string endpoint, Ledger ledger)
{
    private const int RoundsPerConnection = 10;

    /// <summary>Every fifth connection is closed while a call is still running on it.</summary>
    private const int AbandonEvery = 5;

    public async Task RunAsync(CancellationToken stop)
    {
        var random = new Random(endpoint.GetHashCode(StringComparison.Ordinal));
        for (var connectionNumber = 1; !stop.IsCancellationRequested; connectionNumber++)
        {
            RpcConnection connection;
            try
            {
                connection = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<ICallback>(new Tripler()), options: null, CancellationToken.None)
                    .WaitAsync(Ledger.OperationTimeout, CancellationToken.None);
                ledger.Count("connections opened");
            }
            catch (Exception e)
            {
                ledger.Violation($"connect {endpoint}: {e.GetType().Name}: {e.Message}");
                continue;
            }

            var service = connection.CreateProxy<ITestService>();
            for (var round = 0; round < RoundsPerConnection; round++)
            {
                await RoundAsync(service, random.Next(1_000_000));
            }

            // A call in flight when its own side closes fails at once with ConnectionLostException (README, errors table).
            var running = connectionNumber % AbandonEvery == 0 ? service.WaitForCancellationAsync(CancellationToken.None) : null;
            await ledger.ExpectAsync("connections closed", async () => await connection.DisposeAsync());
            if (running is not null)
            {
                await ledger.ExpectFailureAsync<ConnectionLostException>("calls lost to a closed connection", () => running);
            }
        }
    }

    private async Task RoundAsync(ITestService service, int value)
    {
        await ledger.ExpectAsync("unary calls", async () => Check(await service.AddAsync(value, 1) == value + 1, "Add"));
        await ledger.ExpectAsync("unary calls", async () => Check(await service.EchoAsync($"soak {value}") == $"soak {value}", "Echo"));
        await ledger.ExpectAsync("callbacks", async () => Check(await service.CallBackAsync(value) == value * 3, "CallBack"));
        await ledger.ExpectAsync("streams", async () =>
        {
            var items = new List<int>();
            await foreach (var item in service.CountAsync(16, 0))
            {
                items.Add(item);
            }

            Check(items.SequenceEqual(Enumerable.Range(0, 16)), "CountAsync(16)");
        });
        await ledger.ExpectAsync("streams left early", async () =>
        {
            var items = new List<int>();
            await foreach (var item in service.CountAsync(1_000, 1))
            {
                items.Add(item);
                if (items.Count == 3)
                {
                    break;
                }
            }

            Check(items.SequenceEqual([0, 1, 2]), "CountAsync(1000) left after 3");
        });
        await ledger.ExpectFailureAsync<OperationCanceledException>("cancellations", async () =>
        {
            using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));
            await service.WaitForCancellationAsync(cancellation.Token);
        });
        await ledger.ExpectFailureAsync<RemoteInvocationException>(
            "remote errors",
            () => service.ThrowAsync($"soak {value}"),
            e => e.ErrorCode == RpcErrorCode.InvocationFailed && e.Message == $"soak {value}");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"{what} answered wrongly");
        }
    }

    private sealed class Tripler : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
