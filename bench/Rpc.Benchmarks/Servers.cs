using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Pipes;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Nerdbank.Streams;
using Rpc.Benchmarks.Grpc;
using StreamJsonRpc;

namespace Rpc.Benchmarks;

/// <summary>
/// The child process: <c>serve &lt;scenario&gt; &lt;endpoint&gt;</c>. Prints <c>ready &lt;endpoint as bound&gt;</c> once it
/// accepts connections, and exits when its standard input closes (the client also kills it in a finally).
/// </summary>
internal static class ServerProgram
{
    public const string ReadyPrefix = "ready ";

    public static async Task<int> RunAsync(string scenario, string endpoint)
    {
        string bound;
        switch (scenario)
        {
            case Scenarios.Raw:
                bound = StartRaw(endpoint, busyPoll: false);
                break;
            case Scenarios.RawBusyPoll:
                bound = StartRaw(endpoint, busyPoll: true);
                break;
            case Scenarios.Transport:
                bound = await TransportRows.ListenAsync(endpoint, dedicatedReceiveThread: true);
                break;
            case Scenarios.TransportAsync:
                bound = await TransportRows.ListenAsync(endpoint, dedicatedReceiveThread: false);
                break;
            case Scenarios.RpcBinary:
                bound = await StartRpcAsync(endpoint, RpcProtocol.Binary);
                break;
            case Scenarios.RpcJsonRpc:
                bound = await StartRpcAsync(endpoint, RpcProtocol.JsonRpc);
                break;
            case Scenarios.RpcBulk:
                bound = await StartRpcAsync(endpoint, RpcProtocol.Binary, SharedHandleRows.MaxFrameSize);
                break;
            case Scenarios.StreamJsonRpc:
                bound = StartStreamJsonRpc(endpoint);
                break;
            case Scenarios.Grpc:
                bound = await StartGrpcAsync(endpoint);
                break;
            default:
                await Console.Error.WriteLineAsync($"unknown scenario '{scenario}'");
                return 2;
        }

        Console.WriteLine(ReadyPrefix + bound);
        Console.Out.Flush();

        // Serve until the client closes our stdin (or kills us).
        await Task.Run(() => Console.In.ReadToEnd());
        Environment.Exit(0);
        return 0;
    }

    /// <summary>The raw floor's server; <paramref name="busyPoll"/>: its receives poll a non-blocking channel in a spin loop.</summary>
    private static string StartRaw(string endpoint, bool busyPoll)
    {
        if (endpoint.StartsWith("pipe://", StringComparison.Ordinal))
        {
            // The named-pipe floor: NamedPipeServerStream (a Unix socket at $TMPDIR/CoreFxPipe_<name>), sync Read/Write.
            var name = endpoint["pipe://".Length..];
            var first = new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances, PipeTransmissionMode.Byte, System.IO.Pipes.PipeOptions.None);
            StartThread("raw-pipe-accept", () =>
            {
                for (var pipe = first; ; pipe = new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances, PipeTransmissionMode.Byte, System.IO.Pipes.PipeOptions.None))
                {
                    pipe.WaitForConnection();
                    var connected = pipe;
                    IRawChannel channel = busyPoll ? BusyPollSocketChannel.FromPipe(connected, bounded: false) : new StreamChannel(connected, connected);
                    StartThread("raw-connection", () => ServeRawConnection(channel));
                }
            });
            return endpoint;
        }

        if (endpoint.StartsWith(BenchSockets.ShmFloorScheme, StringComparison.Ordinal))
        {
            // The shared-memory floor: this side creates the mapped file; the client maps it and unlinks it.
            var channel = SharedMemoryChannel.Create(endpoint[BenchSockets.ShmFloorScheme.Length..], busyPoll ? SharedMemoryWait.BusySpin : SharedMemoryWait.SpinThenFutex);
            StartThread("raw-shm", () => ServeRawConnection(channel));
            return endpoint;
        }

        if (endpoint.StartsWith(BenchSockets.AnonymousFloorScheme, StringComparison.Ordinal))
        {
            // The anonymous-pipe floor: two inherited pipes, handles given as "<read>:<write>".
            var handles = endpoint[BenchSockets.AnonymousFloorScheme.Length..].Split(':');
            var input = new AnonymousPipeClientStream(PipeDirection.In, handles[0]);
            var output = new AnonymousPipeClientStream(PipeDirection.Out, handles[1]);
            IRawChannel channel = busyPoll ? new BusyPollPipeChannel(input, output, bounded: false) : new StreamChannel(input, output);
            StartThread("raw-anonymous-pipes", () => ServeRawConnection(channel));
            return endpoint;
        }

        var tls = BenchSockets.IsTls(endpoint);
        var (listener, bound) = BenchSockets.Listen(tls ? BenchSockets.TcpUnder(endpoint) : endpoint);
        StartThread("raw-accept", () =>
        {
            while (true)
            {
                var connection = listener.Accept();
                if (connection.AddressFamily != AddressFamily.Unix)
                {
                    connection.NoDelay = true;
                }

                IRawChannel channel = busyPoll ? new BusyPollSocketChannel(connection, bounded: false) : new SocketChannel(connection);
                StartThread("raw-connection", () =>
                {
                    if (tls)
                    {
                        ServeRawTlsConnection(channel);
                    }
                    else
                    {
                        ServeRawConnection(channel);
                    }
                });
            }
        });
        return tls ? "tls://" + bound["tcp://".Length..] : bound;
    }

    /// <summary>The raw TLS floors: the server's handshake, then the floor's frames inside TLS records.</summary>
    private static void ServeRawTlsConnection(IRawChannel channel)
    {
        SslStream tls;
        try
        {
            tls = BenchTls.AuthenticateAsServer(new ChannelStream(channel));
        }
        catch (Exception exception) when (exception is AuthenticationException or IOException or SocketException)
        {
            // A client that failed or dropped its handshake: this connection only.
            channel.Dispose();
            return;
        }

        ServeRawConnection(new StreamChannel(tls, tls));
    }

    /// <summary>
    /// One blocking thread per connection: receive into a reused buffer, answer every complete request in it, batching
    /// small replies into one send (what a good pipelined server does), echoing large frames from the same buffer.
    /// </summary>
    private static void ServeRawConnection(IRawChannel connection)
    {
        var buffer = new byte[256 * 1024];
        var replies = new byte[64 * 1024];
        var filled = 0;
        var replyLength = 0;
        try
        {
            while (true)
            {
                var read = connection.Receive(buffer.AsSpan(filled));
                if (read == 0)
                {
                    return;
                }

                filled += read;
                var offset = 0;
                while (filled - offset >= 4)
                {
                    var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    var frame = 4 + length;
                    if (filled - offset < frame)
                    {
                        if (frame > buffer.Length)
                        {
                            var larger = new byte[Math.Max(frame, buffer.Length * 2)];
                            buffer.AsSpan(offset, filled - offset).CopyTo(larger);
                            filled -= offset;
                            offset = 0;
                            buffer = larger;
                        }

                        break;
                    }

                    if (length == 8)
                    {
                        if (replyLength + 4 > replies.Length)
                        {
                            connection.Send(replies.AsSpan(0, replyLength));
                            replyLength = 0;
                        }

                        var sum = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 4)) + BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 8));
                        BinaryPrimitives.WriteInt32LittleEndian(replies.AsSpan(replyLength), sum);
                        replyLength += 4;
                    }
                    else
                    {
                        if (replyLength > 0)
                        {
                            connection.Send(replies.AsSpan(0, replyLength));
                            replyLength = 0;
                        }

                        connection.Send(buffer.AsSpan(offset, frame));
                    }

                    offset += frame;
                }

                if (replyLength > 0)
                {
                    connection.Send(replies.AsSpan(0, replyLength));
                    replyLength = 0;
                }

                if (offset > 0)
                {
                    buffer.AsSpan(offset, filled - offset).CopyTo(buffer);
                    filled -= offset;
                }
            }
        }
        catch (Exception exception) when (exception is SocketException or IOException or TimeoutException)
        {
            // The client went away.
        }
        finally
        {
            connection.Dispose();
        }
    }

    private static async Task<string> StartRpcAsync(string endpoint, RpcProtocol protocol, int maxFrameSize = RpcConnectionOptions.DefaultMaxFrameSize)
    {
        if (BenchSockets.IsUnix(endpoint) && File.Exists(BenchSockets.UnixPath(endpoint)))
        {
            File.Delete(BenchSockets.UnixPath(endpoint));
        }

        // Never disposed: the process exits when the client is done with it.
        var options = new RpcServerOptions { Protocols = [protocol], Connection = { MaxFrameSize = maxFrameSize } };
        if (BenchSockets.IsTls(endpoint))
        {
            options.Connection.Transport.Tls = BenchTls.ServerOptions();
        }

        var server = new RpcServer(options)
            .AddService<IBenchService>(new BenchService());
        return await server.ListenAsync(endpoint);
    }

    private static string StartStreamJsonRpc(string endpoint)
    {
        var (listener, bound) = BenchSockets.Listen(endpoint);
        StartThread("sjr-accept", () =>
        {
            while (true)
            {
                var connection = listener.Accept();
                var rpc = new JsonRpc(StreamJsonRpcPipes.CreateHandler(connection));
                rpc.AddLocalRpcTarget<ISjrBenchService>(new SjrBenchService(), options: null);
                rpc.StartListening();
            }
        });
        return bound;
    }

    private static async Task<string> StartGrpcAsync(string endpoint)
    {
        var path = BenchSockets.UnixPath(endpoint);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.ListenUnixSocket(path, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<GrpcBenchService>();
        await app.StartAsync();
        return endpoint;
    }

    private static void StartThread(string name, Action body) =>
        new Thread(() => body()) { IsBackground = true, Name = name }.Start();
}

/// <summary>The StreamJsonRpc framing both sides use: MessagePack, length-prefixed, over a pipe with 64 KiB segments.</summary>
internal static class StreamJsonRpcPipes
{
    public static LengthHeaderMessageHandler CreateHandler(Socket socket)
    {
        // The floor measurements show StreamJsonRpc's (Stream, Stream) handler is ~5x slower on large payloads than
        // one over PipeReader/PipeWriter with large buffers: give it its best configuration.
        var stream = new NetworkStream(socket, ownsSocket: true);
        var pipe = stream.UsePipe(
            sizeHint: 64 * 1024,
            pipeOptions: new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 8 * 1024 * 1024, resumeWriterThreshold: 4 * 1024 * 1024, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
        return new LengthHeaderMessageHandler(pipe.Output, pipe.Input, new MessagePackFormatter());
    }
}

/// <summary>The gRPC implementation.</summary>
internal sealed class GrpcBenchService : Bench.BenchBase
{
    public override Task<AddReply> Add(AddRequest request, ServerCallContext context) =>
        Task.FromResult(new AddReply { Sum = request.A + request.B });

    public override Task<EchoMessage> Echo(EchoMessage request, ServerCallContext context) =>
        Task.FromResult(new EchoMessage { Payload = request.Payload });
}

/// <summary>The server scenarios (the first argument after <c>serve</c>).</summary>
internal static class Scenarios
{
    public const string Raw = "raw";
    public const string RawBusyPoll = "raw-busy";
    public const string Transport = "transport";
    public const string TransportAsync = "transport-async";
    public const string RpcBinary = "rpc-binary";
    public const string RpcJsonRpc = "rpc-jsonrpc";
    public const string RpcBulk = "rpc-bulk";
    public const string StreamJsonRpc = "streamjsonrpc";
    public const string Grpc = "grpc";
}
