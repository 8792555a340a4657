using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks;
using NetMQ;
using NetMQ.Sockets;

namespace Rpc.Benchmarks.Fanout;

/// <summary>
/// What a subscriber measures in one round: how many messages arrived, when the first and last did (Stopwatch
/// timestamps are CLOCK_MONOTONIC, comparable across processes on Linux), and one-way latencies.
/// </summary>
internal sealed class Round(int capacity)
{
    private readonly long[] _latencies = new long[capacity];

    public long Received { get; private set; }

    public long First { get; private set; }

    public long Last { get; private set; }

    public bool InOrder { get; private set; } = true;

    private long _next;

    public void Record(long sequence, long sentTimestamp)
    {
        var now = Stopwatch.GetTimestamp();
        if (Received == 0)
        {
            First = now;
        }

        Last = now;
        InOrder &= sequence >= _next;
        _next = sequence + 1;
        if (Received < _latencies.Length)
        {
            _latencies[Received] = now - sentTimestamp;
        }

        Received++;
    }

    /// <summary>RESULT received first last p50µs p99µs in-order.</summary>
    public string Report()
    {
        var count = (int)Math.Min(Received, _latencies.Length);
        Array.Sort(_latencies, 0, count);
        var latencies = _latencies;
        double Percentile(double p) => count == 0 ? 0 : latencies[Math.Min(count - 1, (int)(p * count))] * 1e6 / Stopwatch.Frequency;
        return string.Create(CultureInfo.InvariantCulture, $"RESULT {Received} {First} {Last} {Percentile(0.50):F1} {Percentile(0.99):F1} {InOrder}");
    }
}

/// <summary>A typed subscriber process: serves <see cref="IFanoutSink"/>; each OnEnd closes a round.</summary>
internal sealed class RpcSubscriber : IFanoutSink
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _capacity;
    private Round _round;

    private RpcSubscriber(int capacity)
    {
        _capacity = capacity;
        _round = new Round(capacity);
    }

    public static async Task<int> RunAsync(string endpoint, int capacity)
    {
        var subscriber = new RpcSubscriber(capacity);
        await using var connection = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<IFanoutSink>(subscriber));
        Console.WriteLine("READY");
        await Task.WhenAny(subscriber._done.Task, connection.Completion);
        return 0;
    }

    public void OnMessage(long sequence, long timestamp, byte[] payload) => _round.Record(sequence, timestamp);

    public void OnEnd(long published)
    {
        if (published < 0)
        {
            _done.TrySetResult();
            return;
        }

        Console.WriteLine(_round.Report());
        _round = new Round(_capacity);
    }
}

/// <summary>A NetMQ SUB process: a message is [sequence][timestamp][payload]; sequence -1 ends a round, -2 the run.</summary>
internal static class NetMqSubscriber
{
    public static int Run(string endpoint, int capacity)
    {
        using var socket = new SubscriberSocket();
        socket.Options.ReceiveHighWatermark = 1000;
        socket.Connect(endpoint);
        socket.SubscribeToAnyTopic();
        Console.WriteLine("READY");
        var round = new Round(capacity);
        var reported = 0;
        while (true)
        {
            // Idle this long ends a round whose end markers were all dropped at a high-water mark.
            if (!socket.TryReceiveFrameBytes(TimeSpan.FromSeconds(round.Received == 0 ? 120 : 3), out var frame))
            {
                if (round.Received > 0)
                {
                    Console.WriteLine(round.Report());
                    reported++;
                    round = new Round(capacity);
                }

                continue;
            }

            var sequence = BitConverter.ToInt64(frame, 0);
            if (sequence == -2)
            {
                return 0;
            }

            if (sequence == -1)
            {
                // The publisher repeats the end marker (PUB may drop any message); it carries the round number.
                var number = BitConverter.ToInt64(frame, 8);
                if (number > reported)
                {
                    Console.WriteLine(round.Report());
                    reported = (int)number;
                    round = new Round(capacity);
                }

                continue;
            }

            round.Record(sequence, BitConverter.ToInt64(frame, 8));
        }
    }
}
