using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports;

// Usage: ShmPeer <mode> <name>
//   child-echo          (started through ChildProcessTransport; <name> is ignored) echo everything the parent sends
//   rendezvous-connect  (<name> is the rendezvous socket's path) connect to it, read the start of the server's segment
//                       offer, print "ready", never answer: a client stuck mid-handshake
//   flood-client  connect to shm://name, print "ready", write forever, never read
//   flood-server  listen on shm://name, print "ready", accept one client, write to it forever, never read
//   listen        listen on shm://name, print "ready", accept and hold connections until killed
// The test that starts it kills it; stdin closing (the test process died) also ends it.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: ShmPeer <flood-client|flood-server|listen|child-echo|rendezvous-connect> <name>");
    return 2;
}

_ = Task.Run(() =>
{
    // Never outlive the test run.
    Console.In.ReadToEnd();
    Environment.Exit(3);
});

var endpoint = "shm://" + args[1];
switch (args[0])
{
    case "child-echo":
        {
            var parent = ChildProcessTransport.ConnectToParent();
            await EchoAsync(parent.Connection.Transport);
            await parent.Connection.DisposeAsync();
            break;
        }

    case "rendezvous-connect":
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(args[1]));
            if (await socket.ReceiveAsync(new byte[1], SocketFlags.None) != 1)
            {
                Console.Error.WriteLine("the server closed the rendezvous socket without an offer");
                return 1;
            }

            Console.WriteLine("ready");
            await Task.Delay(Timeout.Infinite);
            break;
        }

    case "flood-client":
        {
            var connection = await RpcTransports.ConnectAsync(endpoint);
            Console.WriteLine("ready");
            await FloodAsync(connection.Transport.Output);
            break;
        }

    case "flood-server":
        {
            var listener = await RpcTransports.ListenAsync(endpoint);
            Console.WriteLine("ready");
            var connection = await listener.AcceptAsync();
            await FloodAsync(connection!.Transport.Output);
            break;
        }

    case "listen":
        {
            var listener = await RpcTransports.ListenAsync(endpoint);
            Console.WriteLine("ready");
            while (await listener.AcceptAsync() is { } accepted)
            {
                GC.KeepAlive(accepted);
            }

            break;
        }

    default:
        Console.Error.WriteLine("unknown mode " + args[0]);
        return 2;
}

return 0;

static async Task FloodAsync(PipeWriter output)
{
    var chunk = new byte[64 * 1024];
    for (var i = 0; ; i++)
    {
        chunk.AsSpan().Fill((byte)i);
        await output.WriteAsync(chunk);
    }
}

static async Task EchoAsync(IDuplexPipe pipe)
{
    while (true)
    {
        var result = await pipe.Input.ReadAsync();
        foreach (var segment in result.Buffer)
        {
            pipe.Output.Write(segment.Span);
        }

        pipe.Input.AdvanceTo(result.Buffer.End);
        await pipe.Output.FlushAsync();
        if (result.IsCompleted)
        {
            break;
        }
    }

    await pipe.Output.CompleteAsync();
}
