using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Samples;
using Ticker;

// Usage:
//   Ticker demo [--subscribers 3] [--prices 100000]   publisher + N subscriber processes, checks every delivery
//   Ticker subscribe <endpoint> <topic>                  one subscriber: prints a RESULT line at the end of the topic
// A failure it expects (a bad endpoint, no publisher there) is one line on stderr and exit code 2 or 1.
return args switch
{
    ["demo", .. var rest] => await CommandLine.RunAsync("Ticker", () => Demo.RunAsync(rest)),
    ["subscribe", var endpoint, var topic] => await CommandLine.RunAsync("Ticker", () => Subscriber.RunAsync(endpoint, topic)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Ticker demo [--subscribers N] [--prices N] | Ticker subscribe <endpoint> <topic>");
    return CommandLine.UsageError;
}

internal static class Demo
{
    private const string Topic = "ACME";
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var subscribers = 3;
        var prices = 100_000;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--subscribers":
                    subscribers = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--prices":
                    prices = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
            }
        }

        using var timeout = new CancellationTokenSource(StepTimeout);
        var endpoint = $"unix://{Path.Combine(Path.GetTempPath(), $"ticker-{Environment.ProcessId}.sock")}";
        var topics = new Topics();
        await using var server = new RpcServer().AddService<ITicker>(connection => new TickerService(connection, topics));
        await server.ListenAsync(endpoint, timeout.Token);
        Console.WriteLine($"publisher listening on {endpoint}; starting {subscribers} subscriber processes");

        var children = new List<Process>();
        try
        {
            for (var i = 0; i < subscribers; i++)
            {
                children.Add(SelfProcess.Start(["subscribe", endpoint, Topic], redirectOutput: true));
            }

            var group = topics[Topic];
            while (group.Count < subscribers)
            {
                await Task.Delay(10, timeout.Token);
            }

            var clock = Stopwatch.StartNew();
            for (var i = 0; i < prices; i++)
            {
                var bid = 100m + (i % 1000) / 100m;
                group.All.OnPrice(new Price(Topic, i, bid, bid + 0.02m));
            }

            group.All.OnEnd(Topic, prices);
            Console.WriteLine($"published {prices:N0} prices to {group.Count} subscribers in {clock.ElapsedMilliseconds} ms (dropped: {group.MessagesDropped})");

            var ok = true;
            foreach (var child in children)
            {
                var line = await child.StandardOutput.ReadLineAsync(timeout.Token);
                await child.WaitForExitAsync(timeout.Token);
                Console.WriteLine($"  subscriber {child.Id}: {line}");
                ok &= line is not null && line.Contains("in-order=True", StringComparison.Ordinal) && child.ExitCode == 0;
            }

            Console.WriteLine(ok ? "every subscriber received every price, in order" : "FAILED");
            return ok ? 0 : 1;
        }
        finally
        {
            SelfProcess.KillAll(children);
        }
    }
}

/// <summary>A subscriber: serves <see cref="ITickerSubscriber"/> on its connection, subscribes, checks what arrives.</summary>
internal sealed class Subscriber : ITickerSubscriber
{
    private readonly TaskCompletionSource<long> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _received;
    private long _next;
    private bool _inOrder = true;

    public static async Task<int> RunAsync(string endpoint, string topic)
    {
        var subscriber = new Subscriber();
        await using var connection = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<ITickerSubscriber>(subscriber));
        var ticker = connection.CreateProxy<ITicker>();
        await ticker.SubscribeAsync(topic);
        var published = await subscriber._end.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await ticker.UnsubscribeAsync(topic);
        var complete = subscriber._received == published;
        Console.WriteLine($"received={subscriber._received:N0} of {published:N0} in-order={subscriber._inOrder && complete}");
        return complete && subscriber._inOrder ? 0 : 1;
    }

    // Notifications from one connection are handled one at a time, in order: no lock needed.
    public void OnPrice(Price price)
    {
        _inOrder &= price.Sequence == _next;
        _next = price.Sequence + 1;
        _received++;
    }

    public void OnEnd(string topic, long count) => _end.TrySetResult(count);
}
