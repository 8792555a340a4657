using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;
using Xunit;

namespace Rpc.Generator.Tests.RoundTrip;

/// <summary>The generated proxy and stub over a real <see cref="RpcConnection"/> pair on an in-memory duplex pipe.</summary>
public sealed class ConnectionTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Proxy_CallsStub_OverAnInMemoryPipe()
    {
        using var cancellation = new CancellationTokenSource(s_timeout);
        var (clientPipe, serverPipe) = FullDuplexStream.CreatePipePair();
        var implementation = new Shapes();
        await using var server = RpcConnection.Create(serverPipe);
        await using var client = RpcConnection.Create(clientPipe);
        server.AddService<IShapes>(implementation);
        server.Start();
        client.Start();
        var proxy = client.CreateProxy<IShapes>();

        Assert.Equal(5, await proxy.AddAsync(2, 3, cancellation.Token).WaitAsync(s_timeout));
        Assert.Equal(new Point(1, 2) { Tag = "t!" }, await proxy.EchoAsync(new Point(1, 2) { Tag = "t" }).WaitAsync(s_timeout));
        Assert.Equal(10, await proxy.SumAsync([new Point(1, 2), new Point(3, 4)], null).WaitAsync(s_timeout));

        var items = new List<int>();
        await foreach (var item in proxy.CountAsync(3, cancellation.Token))
        {
            items.Add(item);
        }

        Assert.Equal([1, 2, 3], items);
    }
}
