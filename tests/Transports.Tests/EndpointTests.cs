using System;
using System.IO;
using System.Net.Sockets;
using System.Threading.Tasks;
using Xunit;

namespace Rpc.Transports.Tests;

public sealed class EndpointTests : TestBase
{
    [Theory]
    [InlineData("no-scheme")]
    [InlineData("tcp://127.0.0.1")]
    [InlineData("tcp://127.0.0.1:99999")]
    [InlineData("tcp://127.0.0.1:abc")]
    [InlineData("tcp://:5000")]
    [InlineData("unix://relative.sock")]
    [InlineData("unix://")]
    public async Task MalformedEndpoints_AreFormatExceptions(string endpoint)
    {
        await Assert.ThrowsAsync<FormatException>(() => Bounded(RpcTransports.ListenAsync(endpoint, null, TimeoutToken)));
        await Assert.ThrowsAsync<FormatException>(() => Bounded(RpcTransports.ConnectAsync(endpoint, null, TimeoutToken)));
    }

    [Fact]
    public async Task UnknownScheme_IsNotSupported() =>
        await Assert.ThrowsAsync<NotSupportedException>(() => Bounded(RpcTransports.ConnectAsync("carrier-pigeon://coop", null, TimeoutToken)));

    [Fact]
    public async Task ConnectToPortZero_IsAFormatException() =>
        await Assert.ThrowsAsync<FormatException>(() => Bounded(RpcTransports.ConnectAsync("tcp://127.0.0.1:0", null, TimeoutToken)));

    [Theory]
    [InlineData("tcp://127.0.0.1:0", "tcp://127.0.0.1:")]
    [InlineData("tcp://[::1]:0", "tcp://[::1]:")]
    [InlineData("tcp://localhost:0", "tcp://")]
    public async Task TcpListener_ReportsTheBoundPort(string endpoint, string expectedPrefix)
    {
        await using var listener = await Bounded(RpcTransports.ListenAsync(endpoint, null, TimeoutToken));
        Assert.StartsWith(expectedPrefix, listener.Endpoint, StringComparison.Ordinal);
        Assert.NotEqual(0, new Uri(listener.Endpoint).Port);

        var (client, server) = await ConnectPairAsync(listener);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConnectToClosedTcpPort_IsIOExceptionNamingTheEndpoint(bool dedicated)
    {
        // Bind then close to find a port nobody listens on.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            port = ((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var endpoint = $"tcp://127.0.0.1:{port}";
        var options = new TransportOptions { UseDedicatedReceiveThread = dedicated };
        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ConnectAsync(endpoint, options, TimeoutToken)));
        Assert.Contains(endpoint, error.Message, StringComparison.Ordinal);
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(error.InnerException).SocketErrorCode);
    }

    [Fact]
    public async Task ConnectToMissingUnixSocket_SaysNoSocketFile()
    {
        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ConnectAsync(UnixEndpoint("absent.sock"), null, TimeoutToken)));
        Assert.Contains(SocketPath("absent.sock"), error.Message, StringComparison.Ordinal);
        Assert.Contains("no socket file", error.Message, StringComparison.Ordinal);
        Assert.IsType<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task ConnectWhenTheServerNeverAccepts_TimesOut()
    {
        // Linux holds at most backlog + 1 unaccepted Unix connections; the next blocking connect waits for room.
        var options = new TransportOptions { ListenBacklog = 1, ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), options, TimeoutToken));
        var queued = new System.Collections.Generic.List<TransportConnection>();
        try
        {
            TimeoutException? timeout = null;
            for (var i = 0; i < 5 && timeout is null; i++)
            {
                try
                {
                    queued.Add(await Bounded(RpcTransports.ConnectAsync(listener.Endpoint, options, TimeoutToken)));
                }
                catch (TimeoutException ex)
                {
                    timeout = ex;
                }
            }

            Assert.NotNull(timeout);
            Assert.Contains(listener.Endpoint, timeout!.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var connection in queued)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AcceptAfterDispose_ReturnsNull()
    {
        var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        var pending = listener.AcceptAsync(TimeoutToken).AsTask();
        await listener.DisposeAsync();
        Assert.Null(await Bounded(pending));
        Assert.Null(await Bounded(listener.AcceptAsync(TimeoutToken)));
    }
}
