using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Xunit;

namespace Rpc.Transports.Tests;

/// <summary>Counted per process, so it runs alone: parallel tests open descriptors and threads of their own.</summary>
[Collection(LeakCountingCollection.Name)]
public sealed class LeakTests : TestBase
{
    [Theory]
    [InlineData("unix", 1000)]
    [InlineData("tcp", 300)]
    [InlineData("unix-async", 300)]
    public async Task ConnectDisconnectCycles_ReturnFdsAndThreadsToBaseline(string kind, int cycles)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var options = TransportKinds.Options(kind);
        await using var listener = await Bounded(RpcTransports.ListenAsync(TransportKinds.ListenEndpoint(kind, this), options, TimeoutToken));

        // Warm up: the first asynchronous socket operation creates the epoll engine's descriptors and thread.
        await CycleAsync(listener, options, 20);
        var baseline = await SettledAsync(int.MaxValue, int.MaxValue);

        await CycleAsync(listener, options, cycles);

        // Slack: the runtime opens a few files lazily (assemblies, /proc entries), and the thread pool grows while other
        // test assemblies load the machine (a clean-clone CI run saw +12) and retires idle threads only after ~20 s; a
        // leak of 300 or 1,000 connections (a descriptor each, a receive thread each on the blocking kinds) is far beyond.
        const int ThreadSlack = 32;
        var after = await SettledAsync(baseline.Fds + 4, baseline.Threads + ThreadSlack);
        Assert.True(after.Fds <= baseline.Fds + 4, $"file descriptors: {baseline.Fds} before, {after.Fds} after {cycles} cycles");
        Assert.True(after.Threads <= baseline.Threads + ThreadSlack, $"threads: {baseline.Threads} before, {after.Threads} after {cycles} cycles");
    }

    private async Task CycleAsync(TransportListener listener, TransportOptions options, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            var (client, server) = await ConnectPairAsync(listener, options);
            await client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }, TimeoutToken);
            await ReadExactlyAsync(server.Transport.Input, 3);
            await Bounded(Task.WhenAll(client.DisposeAsync().AsTask(), server.DisposeAsync().AsTask()));
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LeakCountingCollection
{
    public const string Name = "Leak counting";
}
