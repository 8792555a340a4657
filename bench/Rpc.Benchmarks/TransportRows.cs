using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports;

namespace Rpc.Benchmarks;

/// <summary>
/// The transport-only rows: the raw floor's wire format (<see cref="RawProtocol"/>) over Rpc's <see cref="IDuplexPipe"/>
/// (<see cref="RpcTransports"/>), no protocol, no proxy. Between the floor and the Rpc row of the same transport, this
/// row shows which part of Rpc's cost is the transport and which is the protocol and dispatch above it.
/// </summary>
internal static class TransportRows
{
    /// <summary>The transport settings of both sides; <c>tls://</c> endpoints get the run's certificates.</summary>
    public static TransportOptions Options(string endpoint, bool dedicatedReceiveThread, bool server) => new()
    {
        UseDedicatedReceiveThread = dedicatedReceiveThread,
        Tls = !BenchSockets.IsTls(endpoint) ? null : server ? BenchTls.ServerOptions() : BenchTls.ClientOptions(),
    };

    /// <summary>Server: listens, and answers every connection's requests as the raw floor's server does.</summary>
    public static async Task<string> ListenAsync(string endpoint, bool dedicatedReceiveThread)
    {
        if (BenchSockets.IsUnix(endpoint) && File.Exists(BenchSockets.UnixPath(endpoint)))
        {
            File.Delete(BenchSockets.UnixPath(endpoint));
        }

        // Never disposed: the process exits when the client is done with it.
        var listener = await RpcTransports.ListenAsync(endpoint, Options(endpoint, dedicatedReceiveThread, server: true));
        _ = Task.Run(async () =>
        {
            while (await listener.AcceptAsync() is { } connection)
            {
                _ = ServeAsync(connection);
            }
        });
        return listener.Endpoint;
    }

    private static async Task ServeAsync(TransportConnection connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var consumed = AnswerCompleteRequests(result.Buffer, output, out var answered);
                input.AdvanceTo(consumed, result.Buffer.End);

                // One flush per read, as the raw server sends one batch of small replies per receive.
                if (answered)
                {
                    await output.FlushAsync();
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>Writes the reply of every complete request in <paramref name="buffer"/>; returns where the incomplete rest starts.</summary>
    private static SequencePosition AnswerCompleteRequests(ReadOnlySequence<byte> buffer, PipeWriter output, out bool answered)
    {
        var reader = new SequenceReader<byte>(buffer);
        answered = false;
        while (reader.TryReadLittleEndian(out int length))
        {
            if (reader.Remaining < length)
            {
                reader.Rewind(4);
                break;
            }

            answered = true;
            if (length == 8)
            {
                reader.TryReadLittleEndian(out int a);
                reader.TryReadLittleEndian(out int b);
                BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), a + b);
                output.Advance(4);
            }
            else
            {
                BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), length);
                output.Advance(4);
                foreach (var segment in buffer.Slice(reader.Position, length))
                {
                    output.Write(segment.Span);
                }

                reader.Advance(length);
            }
        }

        return reader.Position;
    }
}

/// <summary>The transport-only row's client: the raw floor's three operations through a <see cref="TransportConnection"/>.</summary>
internal sealed class TransportClient(TransportConnection connection) : BenchClient
{
    private readonly PipeReader _input = connection.Transport.Input;
    private readonly PipeWriter _output = connection.Transport.Output;
    private byte[] _echoRequest = [];

    public static async Task<BenchClient> ConnectAsync(string endpoint, bool dedicatedReceiveThread) =>
        new TransportClient(await RpcTransports.ConnectAsync(endpoint, TransportRows.Options(endpoint, dedicatedReceiveThread, server: false)));

    public override async Task SmallAsync(long[] samples, int offset, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            RawProtocol.WriteSmallRequest(_output.GetSpan(RawProtocol.SmallRequestSize), i, 1);
            _output.Advance(RawProtocol.SmallRequestSize);
            await _output.FlushAsync();

            // ReadAsync until enough, as Rpc's protocol reads (PipeReader's default ReadAtLeastAsync, which a reader of
            // its own does not override, allocates per call); inline: an async helper would allocate too.
            var reply = await _input.ReadAsync();
            while (reply.Buffer.Length < RawProtocol.SmallReplySize && !reply.IsCompleted)
            {
                _input.AdvanceTo(reply.Buffer.Start, reply.Buffer.End);
                reply = await _input.ReadAsync();
            }

            var sum = ReadInt32(reply.Buffer, RawProtocol.SmallReplySize);
            _input.AdvanceTo(reply.Buffer.GetPosition(RawProtocol.SmallReplySize));
            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckSum(sum, i);
        }
    }

    /// <summary>As the raw pipelined floor: a writer keeps <paramref name="inFlight"/> requests outstanding (one flush each); this loop reads replies in bulk.</summary>
    public override async Task InFlightAsync(int totalCalls, int inFlight)
    {
        using var window = new SemaphoreSlim(inFlight, inFlight);
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < totalCalls; i++)
            {
                if (!await window.WaitAsync(TimeSpan.FromSeconds(30)))
                {
                    throw new TimeoutException("No reply for 30 s.");
                }

                RawProtocol.WriteSmallRequest(_output.GetSpan(RawProtocol.SmallRequestSize), i, 1);
                _output.Advance(RawProtocol.SmallRequestSize);
                await _output.FlushAsync();
            }
        });

        var replies = 0;
        while (replies < totalCalls)
        {
            var result = await _input.ReadAsync();
            var complete = (int)Math.Min(result.Buffer.Length / RawProtocol.SmallReplySize, totalCalls - replies);
            _input.AdvanceTo(result.Buffer.GetPosition(complete * RawProtocol.SmallReplySize), result.Buffer.End);
            if (complete > 0)
            {
                replies += complete;
                window.Release(complete);
            }
            else if (result.IsCompleted)
            {
                throw new IOException("The server closed the connection.");
            }
        }

        await writer;
    }

    public override async Task EchoAsync(byte[] payload, long[] samples, int offset, int count)
    {
        if (_echoRequest.Length != payload.Length + 4)
        {
            _echoRequest = new byte[payload.Length + 4];
            BinaryPrimitives.WriteInt32LittleEndian(_echoRequest, payload.Length);
            payload.CopyTo(_echoRequest.AsSpan(4));
        }

        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await _output.WriteAsync(_echoRequest);
            var reply = await _input.ReadAsync();
            while (reply.Buffer.Length < _echoRequest.Length && !reply.IsCompleted)
            {
                _input.AdvanceTo(reply.Buffer.Start, reply.Buffer.End);
                reply = await _input.ReadAsync();
            }

            samples[offset + i] = Stopwatch.GetTimestamp() - start;
            CheckEcho(reply.Buffer, payload);
            _input.AdvanceTo(reply.Buffer.GetPosition(_echoRequest.Length));
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _output.CompleteAsync();
        await connection.DisposeAsync();
    }

    /// <summary>Length and the first, middle and last bytes, as the other rows check.</summary>
    private static void CheckEcho(ReadOnlySequence<byte> reply, byte[] payload)
    {
        var length = ReadInt32(reply, payload.Length + 4);
        var body = reply.Slice(4);
        if (length != payload.Length || ByteAt(body, 0) != payload[0] || ByteAt(body, length / 2) != payload[length / 2] || ByteAt(body, length - 1) != payload[^1])
        {
            throw new InvalidDataException($"Echo of {payload.Length} bytes returned {length} different bytes.");
        }

        static byte ByteAt(ReadOnlySequence<byte> sequence, long index) => sequence.Slice(index, 1).FirstSpan[0];
    }

    /// <summary>The first four bytes, after checking that the server sent <paramref name="expected"/> bytes before closing.</summary>
    private static int ReadInt32(ReadOnlySequence<byte> buffer, int expected)
    {
        if (buffer.Length < expected)
        {
            throw new IOException("The server closed the connection.");
        }

        Span<byte> bytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }
}
