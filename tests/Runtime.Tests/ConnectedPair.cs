using System;
using System.IO.Pipelines;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests;

/// <summary>A client and a server connection over an in-memory duplex pipe, the server serving <see cref="TestService"/>.</summary>
public sealed class ConnectedPair : IAsyncDisposable
{
    private ConnectedPair(RpcConnection server, RpcConnection client, IDuplexPipe clientPipe)
    {
        Server = server;
        Client = client;
        ClientPipe = clientPipe;
    }

    public RpcConnection Server { get; }

    public RpcConnection Client { get; }

    /// <summary>
    /// Gets the client's end of the raw pipe, for tests that write bytes the protocol never would. A binary client has
    /// written its hello there when it was created, so what a test writes follows it.
    /// </summary>
    public IDuplexPipe ClientPipe { get; }

    public ITestService Service => Client.CreateProxy<ITestService>();

    public static ConnectedPair Create(RpcConnectionOptions? serverOptions = null, RpcConnectionOptions? clientOptions = null, bool startClient = true)
    {
        var (serverPipe, clientPipe) = FullDuplexStream.CreatePipePair();
        var server = RpcConnection.Create(serverPipe, serverOptions);
        server.AddService<ITestService>(new TestService(server.CreateProxy<ICallback>()));
        server.Start();
        var client = RpcConnection.Create(clientPipe, clientOptions);
        client.AddService<ICallback>(new DoublingCallback());
        if (startClient)
        {
            client.Start();
        }

        return new ConnectedPair(server, client, clientPipe);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }

    private sealed class DoublingCallback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 2);
    }
}
