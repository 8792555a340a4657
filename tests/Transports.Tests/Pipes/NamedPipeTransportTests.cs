using System;
using System.IO;
using System.IO.Pipes;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Pipes;
using Rpc.Transports.Internal.Sockets;
using Xunit;

namespace Rpc.Transports.Tests.Pipes;

/// <summary>pipe://name: a Unix socket at .NET's named-pipe path, owner-only, interoperable with the pipe stream classes.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NamedPipeTransportTests : TestBase
{

    private static string NewName() => "rpct-" + Guid.NewGuid().ToString("N")[..12];

    private static string PathOf(string name) => Path.Combine(Path.GetTempPath(), NamedPipeTransportProvider.FilePrefix + name);

    [Fact]
    public async Task Bytes_cross_both_ways_and_the_file_is_owner_only()
    {
        var name = NewName();
        await using var listener = await Bounded(RpcTransports.ListenAsync("pipe://" + name));
        Assert.Equal("pipe://" + name, listener.Endpoint);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf(name)));

        var (client, server) = await ConnectPairAsync(listener);
        await using (client)
        await using (server)
        {
            await client.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("ping"), TimeoutToken);
            Assert.Equal("ping", Encoding.UTF8.GetString(await ReadExactlyAsync(server.Transport.Input, 4)));
            await server.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("pong"), TimeoutToken);
            Assert.Equal("pong", Encoding.UTF8.GetString(await ReadExactlyAsync(client.Transport.Input, 4)));
            Assert.Contains("uid", server.RemoteEndpoint, StringComparison.Ordinal);
        }

        await listener.DisposeAsync();
        Assert.False(File.Exists(PathOf(name)));
    }

    [Fact]
    public void A_name_too_long_for_sun_path_is_an_ArgumentException_with_the_limit_and_the_length()
    {
        var name = new string('n', 120);
        var length = Encoding.UTF8.GetByteCount(PathOf(name));
        var error = Assert.Throws<ArgumentException>(() => NamedPipeTransportProvider.GetPath(RpcEndpoint.Parse("pipe://" + name)));
        Assert.Contains("107 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{length} bytes long", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pipe://")]
    [InlineData("pipe://a/b")]
    [InlineData("pipe://a%2Fb")]
    [InlineData("pipe:///abs")]
    public void Malformed_names_are_FormatExceptions(string endpoint) =>
        Assert.Throws<FormatException>(() => NamedPipeTransportProvider.GetPath(RpcEndpoint.Parse(endpoint)));

    [Fact]
    public async Task A_stale_file_is_reclaimed()
    {
        var name = NewName();
        var path = PathOf(name);
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Bound, never listening, then closed without unlinking: what a SIGKILLed server leaves behind.
            dead.Bind(new UnixEndPointWithoutCleanup(path));
        }

        Assert.True(File.Exists(path));
        await using var listener = await Bounded(RpcTransports.ListenAsync("pipe://" + name));
        var (client, server) = await ConnectPairAsync(listener);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_live_server_is_never_taken_over()
    {
        var name = NewName();
        await using var first = await Bounded(RpcTransports.ListenAsync("pipe://" + name));
        var error = await Assert.ThrowsAsync<IOException>(async () => await RpcTransports.ListenAsync("pipe://" + name));
        Assert.Contains("Another server is listening", error.Message, StringComparison.Ordinal);

        // The first server still works.
        var (client, server) = await ConnectPairAsync(first);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Connecting_to_a_missing_pipe_says_so()
    {
        var error = await Assert.ThrowsAsync<IOException>(async () => await RpcTransports.ConnectAsync("pipe://" + NewName()));
        Assert.Contains("no server is listening", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_NamedPipeClientStream_talks_to_our_listener()
    {
        var name = NewName();
        await using var listener = await Bounded(RpcTransports.ListenAsync("pipe://" + name));
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        await using var client = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.CurrentUserOnly | PipeOptions.Asynchronous);
        await client.ConnectAsync(TimeoutToken);
        await using var server = (await Bounded(accept))!;

        await client.WriteAsync(Encoding.UTF8.GetBytes("hello"), TimeoutToken);
        Assert.Equal("hello", Encoding.UTF8.GetString(await ReadExactlyAsync(server.Transport.Input, 5)));
        await server.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("world"), TimeoutToken);
        var buffer = new byte[5];
        await client.ReadExactlyAsync(buffer, TimeoutToken);
        Assert.Equal("world", Encoding.UTF8.GetString(buffer));
    }

    [Fact]
    public async Task Our_client_talks_to_a_NamedPipeServerStream()
    {
        var name = NewName();
        await using var server = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.CurrentUserOnly | PipeOptions.Asynchronous);
        var accept = server.WaitForConnectionAsync(TimeoutToken);
        await using var client = await Bounded(RpcTransports.ConnectAsync("pipe://" + name));
        await Bounded(accept);

        await client.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes("abc"), TimeoutToken);
        var buffer = new byte[3];
        await server.ReadExactlyAsync(buffer, TimeoutToken);
        Assert.Equal("abc", Encoding.UTF8.GetString(buffer));
    }
}
