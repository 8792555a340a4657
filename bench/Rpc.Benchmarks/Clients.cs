using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.IO.Pipes;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;
using Grpc.Net.Client;
using Rpc.Benchmarks.Grpc;
using StreamJsonRpc;

namespace Rpc.Benchmarks;

/// <summary>One row's client: the same three operations on every stack.</summary>
internal abstract class BenchClient : IAsyncDisposable
{
    /// <summary>Makes <paramref name="count"/> sequential small calls, storing each round trip in Stopwatch ticks.</summary>
    public abstract Task SmallAsync(long[] samples, int offset, int count);

    /// <summary>Makes <paramref name="totalCalls"/> small calls with <paramref name="inFlight"/> outstanding at all times.</summary>
    public abstract Task InFlightAsync(int totalCalls, int inFlight);

    /// <summary>Echoes <paramref name="payload"/> <paramref name="count"/> times sequentially, storing each round trip.</summary>
    public abstract Task EchoAsync(byte[] payload, long[] samples, int offset, int count);

    public abstract ValueTask DisposeAsync();

    /// <summary>Gets the server's pid when this client started the server itself (child-process rows), else <see langword="null"/>.</summary>
    public virtual int? ServerProcessId => null;

    protected static void CheckSum(int actual, int i)
    {
        if (actual != i + 1)
        {
            throw new InvalidDataException($"Add({i}, 1) returned {actual}.");
        }
    }

    protected static void CheckEcho(ReadOnlySpan<byte> actual, byte[] expected)
    {
        // Length and a few sampled bytes every call: enough to catch a wrong or truncated payload without a full compare.
        if (actual.Length != expected.Length || actual[0] != expected[0] || actual[^1] != expected[^1] || actual[actual.Length / 2] != expected[expected.Length / 2])
        {
            throw new InvalidDataException($"Echo of {expected.Length} bytes returned {actual.Length} different bytes.");
        }
    }
}

/// <summary>The floors: sends and receives on one channel (socket, pipe, shared memory; blocking or busy-polling), no framing library, buffers reused.</summary>
internal sealed class RawClient : BenchClient
{
    private readonly IRawChannel _socket;
    private readonly bool _busyPoll;
    private byte[] _echoRequest = [];
    private byte[] _echoReply = [];

    /// <summary>Wraps a connected channel; <paramref name="busyPoll"/>: it never blocks (see <see cref="InFlightAsync"/>).</summary>
    public RawClient(IRawChannel channel, bool busyPoll)
    {
        _socket = channel;
        _busyPoll = busyPoll;
    }

    /// <summary>
    /// Connects to a raw server by endpoint: <c>unix://</c>, <c>tcp://</c>, <c>pipe://name</c> (named pipe stream) or
    /// <c>shm-floor:path</c>; <paramref name="busyPoll"/>: receive by polling the non-blocking channel in a spin loop.
    /// </summary>
    public static RawClient Connect(string endpoint, bool busyPoll)
    {
        if (endpoint.StartsWith("pipe://", StringComparison.Ordinal))
        {
            var pipe = new NamedPipeClientStream(".", endpoint["pipe://".Length..], PipeDirection.InOut, PipeOptions.None);
            pipe.Connect(30_000);
            return new RawClient(busyPoll ? BusyPollSocketChannel.FromPipe(pipe, bounded: true) : new StreamChannel(pipe, pipe), busyPoll);
        }

        if (endpoint.StartsWith(BenchSockets.ShmFloorScheme, StringComparison.Ordinal))
        {
            return new RawClient(SharedMemoryChannel.Connect(endpoint[BenchSockets.ShmFloorScheme.Length..], busyPoll ? SharedMemoryWait.BusySpin : SharedMemoryWait.SpinThenFutex), busyPoll);
        }

        if (BenchSockets.IsTls(endpoint))
        {
            // The floors' frames inside TLS records: SslStream over the blocking or the busy-poll socket.
            var tcp = BenchSockets.Connect(BenchSockets.TcpUnder(endpoint));
            tcp.ReceiveTimeout = tcp.SendTimeout = busyPoll ? 0 : 30_000;
            IRawChannel channel = busyPoll ? new BusyPollSocketChannel(tcp, bounded: true) : new SocketChannel(tcp);
            var tls = BenchTls.AuthenticateAsClient(new ChannelStream(channel));
            return new RawClient(new StreamChannel(tls, tls), busyPoll);
        }

        var socket = BenchSockets.Connect(endpoint);
        if (busyPoll)
        {
            return new RawClient(new BusyPollSocketChannel(socket, bounded: true), busyPoll);
        }

        // Every blocking wait is bounded: a stuck server fails the row instead of hanging the run.
        socket.ReceiveTimeout = 30_000;
        socket.SendTimeout = 30_000;
        return new RawClient(new SocketChannel(socket), busyPoll);
    }

    public override Task SmallAsync(long[] samples, int offset, int count)
    {
        Span<byte> request = stackalloc byte[RawProtocol.SmallRequestSize];
        Span<byte> reply = stackalloc byte[RawProtocol.SmallReplySize];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            RawProtocol.WriteSmallRequest(request, i, 1);
            _socket.Send(request);
            ReceiveExactly(_socket, reply);
            var sum = BinaryPrimitives.ReadInt32LittleEndian(reply);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckSum(sum, i);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// The pipelined floor: a writer thread keeps <paramref name="inFlight"/> requests outstanding; this thread reads
    /// replies in bulk. A busy-poll channel does both on this one thread (send until the window is full, then take
    /// whatever replies arrived): a third spinning thread on two cores would measure the scheduler, not the channel.
    /// </summary>
    public override Task InFlightAsync(int totalCalls, int inFlight)
    {
        if (_busyPoll)
        {
            InFlightOnOneThread(totalCalls, inFlight);
            return Task.CompletedTask;
        }

        // The writer thread owns the sending direction, this thread the receiving one.
        var socket = _socket;
        using var window = new SemaphoreSlim(inFlight, inFlight);
        Exception? writerError = null;
        var writer = new Thread(() =>
        {
            try
            {
                Span<byte> request = stackalloc byte[RawProtocol.SmallRequestSize];
                for (var i = 0; i < totalCalls; i++)
                {
                    if (!window.Wait(TimeSpan.FromSeconds(30)))
                    {
                        throw new TimeoutException("No reply for 30 s.");
                    }

                    RawProtocol.WriteSmallRequest(request, i, 1);
                    socket.Send(request);
                }
            }
            catch (Exception exception)
            {
                writerError = exception;
            }
        })
        { IsBackground = true, Name = "raw-pipelined-writer" };

        var buffer = new byte[64 * 1024];
        long received = 0;
        long expected = (long)totalCalls * RawProtocol.SmallReplySize;
        writer.Start();
        while (received < expected)
        {
            var before = received / RawProtocol.SmallReplySize;
            var read = socket.Receive(buffer);
            if (read == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            received += read;
            var replies = (int)((received / RawProtocol.SmallReplySize) - before);
            if (replies > 0)
            {
                window.Release(replies);
            }
        }

        writer.Join(TimeSpan.FromSeconds(30));
        if (writerError is not null)
        {
            throw new IOException("The pipelined writer failed.", writerError);
        }

        return Task.CompletedTask;
    }

    private void InFlightOnOneThread(int totalCalls, int inFlight)
    {
        Span<byte> request = stackalloc byte[RawProtocol.SmallRequestSize];
        var buffer = new byte[64 * 1024];
        var sent = 0;
        long receivedBytes = 0;
        while (receivedBytes < (long)totalCalls * RawProtocol.SmallReplySize)
        {
            // One send per request, as the blocking floor's writer thread does.
            for (; sent < totalCalls && sent - (receivedBytes / RawProtocol.SmallReplySize) < inFlight; sent++)
            {
                RawProtocol.WriteSmallRequest(request, sent, 1);
                _socket.Send(request);
            }

            var read = _socket.Receive(buffer);
            if (read == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            receivedBytes += read;
        }
    }

    public override Task EchoAsync(byte[] payload, long[] samples, int offset, int count)
    {
        if (_echoRequest.Length != payload.Length + 4)
        {
            _echoRequest = new byte[payload.Length + 4];
            _echoReply = new byte[payload.Length + 4];
            BinaryPrimitives.WriteInt32LittleEndian(_echoRequest, payload.Length);
            payload.CopyTo(_echoRequest.AsSpan(4));
        }

        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            _socket.Send(_echoRequest);
            ReceiveExactly(_socket, _echoReply);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckEcho(_echoReply.AsSpan(4, BinaryPrimitives.ReadInt32LittleEndian(_echoReply)), payload);
        }

        return Task.CompletedTask;
    }

    public override ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }

    private static void ReceiveExactly(IRawChannel channel, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var read = channel.Receive(buffer);
            if (read == 0)
            {
                throw new IOException("The peer closed the connection.");
            }

            buffer = buffer[read..];
        }
    }
}

/// <summary>Rpc through its generated proxy, either protocol.</summary>
internal sealed class RpcClient : BenchClient
{
    private readonly IAsyncDisposable _owner;
    private readonly IBenchService _proxy;

    private RpcClient(IBenchService proxy, IAsyncDisposable owner, int? serverProcessId = null)
    {
        _owner = owner;
        _proxy = proxy;
        ServerProcessId = serverProcessId;
    }

    public override int? ServerProcessId { get; }

    public static async Task<BenchClient> ConnectAsync(string endpoint, RpcProtocol protocol)
    {
        var connection = await RpcConnection.ConnectAsync(endpoint, ConnectionOptions(endpoint, protocol));
        return new RpcClient(connection.CreateProxy<IBenchService>(), connection);
    }

    /// <summary>The same calls through the stable proxy of a reconnecting <see cref="global::Rpc.RpcClient"/>.</summary>
    public static async Task<BenchClient> ConnectReconnectingAsync(string endpoint)
    {
        var client = new global::Rpc.RpcClient(endpoint, new RpcClientOptions { Connection = ConnectionOptions(endpoint, RpcProtocol.Binary) });
        await client.ConnectAsync();
        return new RpcClient(client.GetProxy<IBenchService>(), client);
    }

    /// <summary>Starts this executable as an Rpc child process (<c>serve-child</c>) over inherited anonymous pipes.</summary>
    public static async Task<BenchClient> StartChildAsync()
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Unknown process path.");
        var options = new RpcChildProcessOptions { FileName = self };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            options.Arguments.Add(typeof(RpcClient).Assembly.Location);
        }

        options.Arguments.Add("serve-child");
        var child = await RpcChildProcess.StartAsync<IBenchService>(options);
        return new RpcClient(child.Connection.CreateProxy<IBenchService>(), child, child.ProcessId);
    }

    private static RpcConnectionOptions ConnectionOptions(string endpoint, RpcProtocol protocol)
    {
        var options = new RpcConnectionOptions { Protocol = protocol };
        if (BenchSockets.IsTls(endpoint))
        {
            options.Transport.Tls = BenchTls.ClientOptions();
        }

        return options;
    }

    public override async Task SmallAsync(long[] samples, int offset, int count)
    {
        var proxy = _proxy;
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var sum = await proxy.AddAsync(i, 1);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckSum(sum, i);
        }
    }

    public override Task InFlightAsync(int totalCalls, int inFlight)
    {
        var workers = new Task[inFlight];
        for (var w = 0; w < inFlight; w++)
        {
            workers[w] = WorkerAsync(_proxy, (totalCalls / inFlight) + (w < totalCalls % inFlight ? 1 : 0));
        }

        return Task.WhenAll(workers);

        static async Task WorkerAsync(IBenchService proxy, int calls)
        {
            for (var i = 0; i < calls; i++)
            {
                CheckSum(await proxy.AddAsync(i, 1), i);
            }
        }
    }

    public override async Task EchoAsync(byte[] payload, long[] samples, int offset, int count)
    {
        var proxy = _proxy;
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();

            // The recommended pattern: the caller fills a pooled buffer (this copy is timed), the runtime returns it
            // to the pool once written; the reply is the caller's to dispose.
            using var reply = await proxy.EchoAsync(RpcBuffer.CopyFrom(payload));
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckEcho(reply.Span, payload);
        }
    }

    public override ValueTask DisposeAsync() => _owner.DisposeAsync();
}

/// <summary>StreamJsonRpc's own proxy (<c>JsonRpc.Attach&lt;T&gt;</c>) with MessagePack and length-header framing over pipes.</summary>
internal sealed class StreamJsonRpcClient : BenchClient
{
    private readonly ISjrBenchService _proxy;

    public StreamJsonRpcClient(string endpoint) =>
        _proxy = JsonRpc.Attach<ISjrBenchService>(StreamJsonRpcPipes.CreateHandler(BenchSockets.Connect(endpoint)));

    public override async Task SmallAsync(long[] samples, int offset, int count)
    {
        var proxy = _proxy;
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var sum = await proxy.AddAsync(i, 1);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckSum(sum, i);
        }
    }

    public override Task InFlightAsync(int totalCalls, int inFlight)
    {
        var workers = new Task[inFlight];
        for (var w = 0; w < inFlight; w++)
        {
            workers[w] = WorkerAsync(_proxy, (totalCalls / inFlight) + (w < totalCalls % inFlight ? 1 : 0));
        }

        return Task.WhenAll(workers);

        static async Task WorkerAsync(ISjrBenchService proxy, int calls)
        {
            for (var i = 0; i < calls; i++)
            {
                CheckSum(await proxy.AddAsync(i, 1), i);
            }
        }
    }

    public override async Task EchoAsync(byte[] payload, long[] samples, int offset, int count)
    {
        var proxy = _proxy;
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var reply = await proxy.EchoAsync(payload);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckEcho(reply, payload);
        }
    }

    public override ValueTask DisposeAsync()
    {
        ((IDisposable)_proxy).Dispose();
        return default;
    }
}

/// <summary>Grpc.Net.Client over HTTP/2 (prior knowledge) on a Unix socket, via <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
internal sealed class GrpcClient : BenchClient
{
    private readonly GrpcChannel _channel;
    private readonly Bench.BenchClient _client;

    public GrpcClient(string endpoint)
    {
        var path = BenchSockets.UnixPath(endpoint);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        _client = new Bench.BenchClient(_channel);
    }

    public override async Task SmallAsync(long[] samples, int offset, int count)
    {
        var client = _client;
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var reply = await client.AddAsync(new AddRequest { A = i, B = 1 });
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckSum(reply.Sum, i);
        }
    }

    public override Task InFlightAsync(int totalCalls, int inFlight)
    {
        var workers = new Task[inFlight];
        for (var w = 0; w < inFlight; w++)
        {
            workers[w] = WorkerAsync(_client, (totalCalls / inFlight) + (w < totalCalls % inFlight ? 1 : 0));
        }

        return Task.WhenAll(workers);

        static async Task WorkerAsync(Bench.BenchClient client, int calls)
        {
            for (var i = 0; i < calls; i++)
            {
                CheckSum((await client.AddAsync(new AddRequest { A = i, B = 1 })).Sum, i);
            }
        }
    }

    public override async Task EchoAsync(byte[] payload, long[] samples, int offset, int count)
    {
        var client = _client;

        // No copy on the way out (UnsafeWrap): gRPC's best case; the reply is a fresh ByteString, as its API requires.
        var request = new EchoMessage { Payload = UnsafeByteOperations.UnsafeWrap(payload) };
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var reply = await client.EchoAsync(request);
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckEcho(reply.Payload.Span, payload);
        }
    }

    public override ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return default;
    }
}
