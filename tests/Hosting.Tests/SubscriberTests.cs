using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Rpc.Tests;
using Rpc.Tests.Groups;

namespace Rpc.Hosting.Tests;

/// <summary>A hosted group subscriber against a publisher in another process (tests/TestHost), which is killed and restarted.</summary>
public sealed class SubscriberTests
{
    private const string Topic = "prices";

    [Fact]
    public async Task HostedSubscriber_ReceivesBroadcasts_SubscribesAgainAfterTheServerRestarts_AndLeavesWhenTheHostStops()
    {
        var endpoint = TestHosts.NewEndpoint();
        var logs = new FakeLogCollector();
        var publisher = await ServerProcess.StartAsync([endpoint], cancellationToken: Timeout());
        IHost? host = null;
        try
        {
            host = await TestHosts.StartAsync(services =>
            {
                services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
                services.AddRpcSubscriber<IGroupMember, RecordingMember>(
                    endpoint,
                    subscribe: (connection, cancellationToken) => connection.CreateProxy<IFeed>().SubscribeAsync(Topic).WaitAsync(cancellationToken),
                    configure: options =>
                    {
                        options.Client.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(20);
                        options.Client.Reconnect.MaxDelay = TimeSpan.FromMilliseconds(200);
                    });
            });
            var member = host.Services.GetRequiredService<RecordingMember>();

            await PublishWhenSubscribedAsync(endpoint, sequence: 1);
            await TestHosts.UntilAsync(() => member.Count == 1, "the first broadcast to arrive");

            // A crash, then a new publisher on the same endpoint, which knows nothing of the old subscriptions.
            publisher.Kill();
            await publisher.DisposeAsync();
            publisher = await ServerProcess.StartAsync([endpoint], cancellationToken: Timeout());
            await PublishWhenSubscribedAsync(endpoint, sequence: 2);
            await TestHosts.UntilAsync(() => member.Count == 2, "the broadcast after the restart to arrive");
            Assert.Equal([1L, 2L], member.Ticks);

            // What the operator saw: subscribed, lost (with the reason), the client's reconnect, subscribed again.
            var events = logs.GetSnapshot().Select(record => record.Id.Id).Where(id => id is 7111 or 7112 or 1010).ToArray();
            Assert.Equal([7111, 7112], events[..2]);
            Assert.Equal([7111, 1010], events[^2..]);

            await host.StopAsync().WaitAsync(TestHosts.Patience);
            await using var control = await RpcConnection.ConnectAsync(endpoint, cancellationToken: Timeout());
            await UntilAsync(async () => await control.CreateProxy<IFeedControl>().MemberCountAsync(Topic) == 0, "the member to leave with the host");
        }
        finally
        {
            if (host is not null)
            {
                await ((IAsyncDisposable)host).DisposeAsync();
            }

            await publisher.DisposeAsync();
        }
    }

    [Fact]
    public async Task ASubscribeStepThatThrows_ClosesThatConnection_AndTheNextConnectionSubscribes()
    {
        var endpoint = TestHosts.NewEndpoint();
        var logs = new FakeLogCollector();
        await using var publisher = await ServerProcess.StartAsync([endpoint], cancellationToken: Timeout());
        var attempts = 0;
        var host = await TestHosts.StartAsync(services =>
        {
            services.AddLogging(logging => logging.AddProvider(new FakeLoggerProvider(logs)));
            services.AddRpcSubscriber<IGroupMember, RecordingMember>(
                endpoint,
                subscribe: async (connection, cancellationToken) =>
                {
                    if (Interlocked.Increment(ref attempts) == 1)
                    {
                        throw new InvalidOperationException("not yet");
                    }

                    await connection.CreateProxy<IFeed>().SubscribeAsync(Topic).WaitAsync(cancellationToken);
                },
                configure: options => options.Client.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(20));
        });
        try
        {
            await PublishWhenSubscribedAsync(endpoint, sequence: 1);
            await TestHosts.UntilAsync(() => host.Services.GetRequiredService<RecordingMember>().Count == 1, "the broadcast to arrive");
            Assert.Equal(2, Volatile.Read(ref attempts));
            var failed = Assert.Single(logs.GetSnapshot(), record => record.Id.Id == 7113);
            Assert.Equal(LogLevel.Warning, failed.Level);
            Assert.Contains("not yet", failed.Message, StringComparison.Ordinal);
        }
        finally
        {
            await TestHosts.StopAsync(host);
        }
    }

    /// <summary>Broadcasts <paramref name="sequence"/> once the topic has its one member.</summary>
    private static async Task PublishWhenSubscribedAsync(string endpoint, long sequence)
    {
        await using var control = await RpcConnection.ConnectAsync(endpoint, cancellationToken: Timeout());
        var feed = control.CreateProxy<IFeedControl>();
        await UntilAsync(async () => await feed.MemberCountAsync(Topic) == 1, "the hosted subscriber to join the topic");
        Assert.Equal(1, await feed.PublishAsync(Topic, sequence));
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition().WaitAsync(TestHosts.Patience))
        {
            if (clock.Elapsed > TestHosts.Patience)
            {
                throw new TimeoutException($"Waited {TestHosts.Patience.TotalSeconds} s for {what}.");
            }

            await Task.Delay(10);
        }
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TestHosts.Patience).Token;
}
