using System;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace Rpc.Transports.Tests;

/// <summary>
/// A sanity check, not a benchmark suite: 4-byte ping-pong through TransportConnection against raw blocking sockets,
/// client and server in this process. Prints numbers, asserts nothing about time. Run alone for stable figures:
/// <c>dotnet test -c Release --filter PingPong --logger "console;verbosity=detailed"</c>.
/// </summary>
public sealed class PingPongBenchmark(ITestOutputHelper output) : TestBase(TimeSpan.FromMinutes(2))
{
    private const int Warmup = 2_000;
    private const int RoundTrips = 20_000;

    [Fact]
    public async Task PingPong_TransportVersusRawSockets()
    {
        for (var run = 0; run < 3; run++)
        {
            var rawUnix = RawSocketRoundTrip(unix: true);
            var unix = await TransportRoundTripAsync(UnixEndpoint($"p{run}.sock"), dedicated: true);
            var unixAsync = await TransportRoundTripAsync(UnixEndpoint($"q{run}.sock"), dedicated: false);
            var rawTcp = RawSocketRoundTrip(unix: false);
            var tcp = await TransportRoundTripAsync("tcp://127.0.0.1:0", dedicated: true);
            var tcpAsync = await TransportRoundTripAsync("tcp://127.0.0.1:0", dedicated: false);
            output.WriteLine(FormattableString.Invariant(
                $"run {run}: unix raw {rawUnix:F1} µs, transport {unix:F1} µs ({unix / rawUnix:F2}x), async mode {unixAsync:F1} µs ({unixAsync / rawUnix:F2}x) | tcp raw {rawTcp:F1} µs, transport {tcp:F1} µs ({tcp / rawTcp:F2}x), async mode {tcpAsync:F1} µs ({tcpAsync / rawTcp:F2}x)"));
        }
    }

    private double RawSocketRoundTrip(bool unix)
    {
        using var listener = unix
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(unix ? new UnixDomainSocketEndPoint(SocketPath("raw.sock")) : new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(listener.AddressFamily, SocketType.Stream, unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        if (!unix)
        {
            client.NoDelay = server.NoDelay = true;
        }

        var echo = new Thread(() =>
        {
            var buffer = new byte[4];
            int n;
            while ((n = server.Receive(buffer)) > 0)
            {
                server.Send(buffer.AsSpan(0, n));
            }
        }) { IsBackground = true };
        echo.Start();

        var message = new byte[4];
        double elapsed = 0;
        for (var i = 0; i < Warmup + RoundTrips; i++)
        {
            if (i == Warmup)
            {
                elapsed = Stopwatch.GetTimestamp();
            }

            client.Send(message);
            var got = 0;
            while (got < 4)
            {
                got += client.Receive(message.AsSpan(got));
            }
        }

        var perRoundTrip = Stopwatch.GetElapsedTime((long)elapsed).TotalMicroseconds / RoundTrips;
        client.Shutdown(SocketShutdown.Both);
        echo.Join(TimeSpan.FromSeconds(5));
        return perRoundTrip;
    }

    private async Task<double> TransportRoundTripAsync(string endpoint, bool dedicated)
    {
        var options = new TransportOptions { UseDedicatedReceiveThread = dedicated };
        await using var listener = await Bounded(RpcTransports.ListenAsync(endpoint, options, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener, options);
        await using (client)
        await using (server)
        {
            var echo = EchoAsync(server.Transport, CancellationToken.None);
            var input = client.Transport.Input;
            var output = client.Transport.Output;
            var message = new byte[4];
            long start = 0;
            for (var i = 0; i < Warmup + RoundTrips; i++)
            {
                if (i == Warmup)
                {
                    start = Stopwatch.GetTimestamp();
                }

                message.CopyTo(output.GetSpan(4));
                output.Advance(4);
                await output.FlushAsync();
                while (true)
                {
                    var result = await input.ReadAsync();
                    if (result.Buffer.Length >= 4)
                    {
                        input.AdvanceTo(result.Buffer.GetPosition(4));
                        break;
                    }

                    input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                }
            }

            var perRoundTrip = Stopwatch.GetElapsedTime(start).TotalMicroseconds / RoundTrips;
            await output.CompleteAsync();
            await Bounded(echo);
            return perRoundTrip;
        }
    }
}
