using System;
using System.Diagnostics;
using System.IO.Pipes;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Transports;
using Rpc.Transports.Internal.Pipes;
using Xunit.Abstractions;

namespace Rpc.Tests.Processes;

/// <summary>pipe:// through the whole stack: RpcServer.ListenAsync and RpcConnection.ConnectAsync.</summary>
public sealed class NamedPipeRpcTests : TestBase
{
    private readonly ITestOutputHelper _output;

    public NamedPipeRpcTests(ITestOutputHelper output) => _output = output;

    private static string NewEndpoint() => "pipe://rpct-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Calls_and_callbacks_through_RpcServer_and_RpcConnection()
    {
        var endpoint = NewEndpoint();
        await using var server = new RpcServer().AddService<ITestService>(c => new TestService(c.CreateProxy<ICallback>()));
        Assert.Equal(endpoint, await server.ListenAsync(endpoint, TimeoutToken));

        await using var client = await RpcConnection.ConnectAsync(endpoint, c => c.AddService<ICallback>(new Callback()), cancellationToken: TimeoutToken);
        var proxy = client.CreateProxy<ITestService>();
        Assert.Equal(42, await proxy.AddAsync(40, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal("héllo", await proxy.EchoAsync("héllo").AsTask().WaitAsync(TimeoutToken));
        Assert.Equal(21, await proxy.CallBackAsync(7).WaitAsync(TimeoutToken));
        Assert.Equal(endpoint, client.RemoteEndpoint);
        Assert.Contains($"pid {Environment.ProcessId}, uid", Assert.Single(server.Connections).RemoteEndpoint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_concurrent_clients()
    {
        var endpoint = NewEndpoint();
        await using var server = new RpcServer().AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);

        var clients = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken)));
        try
        {
            await Task.WhenAll(clients.Select(async (client, index) =>
            {
                var proxy = client.CreateProxy<ITestService>();
                for (var i = 0; i < 50; i++)
                {
                    Assert.Equal(index + i, await proxy.AddAsync(index, i, TimeoutToken));
                }
            })).WaitAsync(TimeoutToken);
            Assert.Equal(32, server.Connections.Count);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Server_death_fails_pending_calls_with_ConnectionLostException()
    {
        var endpoint = NewEndpoint();
        var server = new RpcServer().AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);
        await using var client = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var pending = client.CreateProxy<ITestService>().SleepAsync(30_000, TimeoutToken);
        await client.CreateProxy<ITestService>().PingAsync().AsTask().WaitAsync(TimeoutToken);

        foreach (var connection in server.Connections)
        {
            connection.Abort();
        }

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeoutToken));
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Small_call_latency_against_a_raw_named_pipe()
    {
        const int Warmup = 2_000;
        const int Count = 20_000;
        var raw = await RawNamedPipeAsync(Warmup, Count);

        var endpoint = NewEndpoint();
        await using var server = new RpcServer().AddService<ITestService>(new TestService());
        await server.ListenAsync(endpoint, TimeoutToken);
        await using var client = await RpcConnection.ConnectAsync(endpoint, cancellationToken: TimeoutToken);
        var proxy = client.CreateProxy<ITestService>();
        var samples = new double[Count];
        for (var i = -Warmup; i < Count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await proxy.AddAsync(i, 1);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }
        }

        Array.Sort(samples);
        var p50 = samples[Count / 2];
        _output.WriteLine($"in-process: raw NamedPipe streams (sync) p50 {raw:0.0} µs; Rpc over pipe:// AddAsync p50 {p50:0.0} µs; ratio {p50 / raw:0.00}");
    }

    private static async Task<double> RawNamedPipeAsync(int warmup, int count)
    {
        var name = "rpct-" + Guid.NewGuid().ToString("N")[..12];
        using var server = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.CurrentUserOnly);
        using var client = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.CurrentUserOnly);
        var accept = Task.Run(server.WaitForConnection);
        client.Connect(5000);
        await accept;
        var echo = new System.Threading.Thread(() =>
        {
            var buffer = new byte[4];
            while (server.Read(buffer, 0, 4) > 0)
            {
                server.Write(buffer, 0, 4);
            }
        }) { IsBackground = true };
        echo.Start();

        var samples = new double[count];
        var message = new byte[4];
        for (var i = -warmup; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            client.Write(message, 0, 4);
            var read = 0;
            while (read < 4)
            {
                read += client.Read(message, read, 4 - read);
            }

            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }
        }

        client.Dispose();
        echo.Join(5000);
        Array.Sort(samples);
        return samples[count / 2];
    }

    private sealed class Callback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 3);
    }
}
