using System;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;

namespace Rpc.Benchmarks;

/// <summary>A blocking byte channel the raw floors run over: a socket, a pair of pipe streams, or a shared-memory ring pair.</summary>
internal interface IRawChannel : IDisposable
{
    /// <summary>Blocks until at least one byte arrives; returns the count, 0 at end of stream.</summary>
    int Receive(Span<byte> buffer);

    /// <summary>Blocks until every byte is written.</summary>
    void Send(ReadOnlySpan<byte> buffer);
}

/// <summary>A blocking socket (Unix, TCP).</summary>
internal sealed class SocketChannel(Socket socket) : IRawChannel
{
    public Socket Socket { get; } = socket;

    public int Receive(Span<byte> buffer) => Socket.Receive(buffer);

    public void Send(ReadOnlySpan<byte> buffer) => BenchSockets.SendAll(Socket, buffer);

    public void Dispose() => Socket.Dispose();
}

/// <summary>Synchronous <c>Stream.Read</c>/<c>Write</c> (named pipe streams, anonymous pipe streams); one stream or two.</summary>
internal sealed class StreamChannel(Stream input, Stream output) : IRawChannel
{
    public int Receive(Span<byte> buffer) => input.Read(buffer);

    public void Send(ReadOnlySpan<byte> buffer) => output.Write(buffer);

    public void Dispose()
    {
        input.Dispose();
        if (!ReferenceEquals(input, output))
        {
            output.Dispose();
        }
    }
}

/// <summary>
/// The shared-memory floor: a file in /dev/shm mapped by both processes, holding two single-producer/single-consumer
/// byte rings (ring 0 server → client, ring 1 client → server). 8-byte free-running <c>Head</c>/<c>Tail</c> counters; a
/// waiting side spins up to 20 µs, then sleeps with <c>FUTEX_WAIT</c> (non-private) on the low 32 bits of the counter it
/// waits for, Dekker style (set "waiting" flag, full fence, re-check, sleep); the other side publishes its counter, full
/// fence, and calls <c>FUTEX_WAKE</c> only when the flag is set. Deliberately minimal: no handshake, no liveness checks
/// beyond bounded sleeps (30 s total without progress fails the wait).
/// </summary>
internal sealed unsafe class SharedMemoryChannel : IRawChannel
{
    public const int RingBytes = 1024 * 1024;
    private const int HeaderBytes = 4096;
    private const long SpinTicksLimit = 20; // µs, converted below.

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Ring _receive;
    private readonly Ring _send;
    private int _disposed;

    private SharedMemoryChannel(MemoryMappedFile file, bool server)
    {
        _file = file;
        _view = file.CreateViewAccessor(0, FileBytes);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        // The server idles while other rows are measured: only the client's waits are bounded (30 s without progress).
        var ring0 = new Ring(_base, 0, bounded: !server);
        var ring1 = new Ring(_base, 1, bounded: !server);
        _receive = server ? ring1 : ring0;
        _send = server ? ring0 : ring1;
    }

    public static long FileBytes => HeaderBytes + (2L * RingBytes);

    /// <summary>Server side: creates (exclusively) and maps the file.</summary>
    public static SharedMemoryChannel Create(string path)
    {
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            stream.SetLength(FileBytes);
        }

        return Open(path, server: true);
    }

    /// <summary>Client side: maps the file the server created, then unlinks it (the mappings outlive the name).</summary>
    public static SharedMemoryChannel Connect(string path)
    {
        var channel = Open(path, server: false);
        File.Delete(path);
        return channel;
    }

    private static SharedMemoryChannel Open(string path, bool server)
    {
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, FileBytes, MemoryMappedFileAccess.ReadWrite);
        return new SharedMemoryChannel(file, server);
    }

    public int Receive(Span<byte> buffer) => _receive.Read(buffer);

    public void Send(ReadOnlySpan<byte> buffer) => _send.Write(buffer);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }

    /// <summary>One ring: control block at <c>ring × 1024</c> (Head, consumer-waiting flag, Tail, producer-waiting flag on separate 64-byte lines), data after the header.</summary>
    private readonly struct Ring(byte* fileBase, int index, bool bounded)
    {
        private readonly long* _head = (long*)(fileBase + (index * 1024));
        private readonly int* _consumerWaiting = (int*)(fileBase + (index * 1024) + 64);
        private readonly long* _tail = (long*)(fileBase + (index * 1024) + 128);
        private readonly int* _producerWaiting = (int*)(fileBase + (index * 1024) + 192);
        private readonly byte* _data = fileBase + HeaderBytes + ((long)index * RingBytes);
        private readonly bool _bounded = bounded;

        public int Read(Span<byte> destination)
        {
            var tail = Volatile.Read(ref *_tail);
            var head = Volatile.Read(ref *_head);
            if (head == tail)
            {
                head = WaitWhileEqual(_head, tail, _consumerWaiting, _bounded);
            }

            var count = (int)Math.Min(head - tail, destination.Length);
            var start = (int)(tail & (RingBytes - 1));
            var first = Math.Min(count, RingBytes - start);
            new ReadOnlySpan<byte>(_data + start, first).CopyTo(destination);
            if (count > first)
            {
                new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
            }

            Publish(_tail, tail + count, _producerWaiting);
            return count;
        }

        public void Write(ReadOnlySpan<byte> source)
        {
            var head = Volatile.Read(ref *_head);
            while (!source.IsEmpty)
            {
                var tail = Volatile.Read(ref *_tail);
                if (head - tail == RingBytes)
                {
                    tail = WaitWhileEqual(_tail, tail, _producerWaiting, _bounded);
                }

                var count = (int)Math.Min(RingBytes - (head - tail), source.Length);
                var start = (int)(head & (RingBytes - 1));
                var first = Math.Min(count, RingBytes - start);
                source[..first].CopyTo(new Span<byte>(_data + start, first));
                if (count > first)
                {
                    source[first..count].CopyTo(new Span<byte>(_data, count - first));
                }

                head += count;
                Publish(_head, head, _consumerWaiting);
                source = source[count..];
            }
        }

        /// <summary>Publishes a counter (release + full fence), then wakes the peer only if it said it sleeps.</summary>
        private static void Publish(long* counter, long value, int* peerWaiting)
        {
            Interlocked.Exchange(ref *counter, value);
            if (Volatile.Read(ref *peerWaiting) != 0)
            {
                FutexCalls.WakeAll((int*)counter);
            }
        }

        /// <summary>Waits until <c>*counter != seen</c>: spin ≤ 20 µs, then futex on its low 32 bits (Dekker flag).</summary>
        private static long WaitWhileEqual(long* counter, long seen, int* waiting, bool bounded)
        {
            var spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + (SpinTicksLimit * System.Diagnostics.Stopwatch.Frequency / 1_000_000);
            long value;
            while ((value = Volatile.Read(ref *counter)) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() > spinUntil)
                {
                    return Sleep(counter, seen, waiting, bounded);
                }

                Thread.SpinWait(1);
            }

            return value;
        }

        private static long Sleep(long* counter, long seen, int* waiting, bool bounded)
        {
            var giveUp = Environment.TickCount64 + 30_000;
            while (true)
            {
                Interlocked.Exchange(ref *waiting, 1);
                var value = Volatile.Read(ref *counter);
                if (value != seen)
                {
                    Volatile.Write(ref *waiting, 0);
                    return value;
                }

                FutexCalls.Wait((int*)counter, unchecked((int)seen), 1_000);
                Volatile.Write(ref *waiting, 0);
                value = Volatile.Read(ref *counter);
                if (value != seen)
                {
                    return value;
                }

                if (bounded && Environment.TickCount64 > giveUp)
                {
                    throw new TimeoutException("The shared-memory peer made no progress for 30 s.");
                }
            }
        }
    }
}

/// <summary><c>futex(2)</c> through <c>syscall(SYS_futex = 202)</c> (x86-64), non-private (the word is in a shared mapping).</summary>
internal static unsafe partial class FutexCalls
{
    private const long SysFutex = 202;
    private const int FutexWait = 0;
    private const int FutexWake = 1;

    public static void Wait(int* word, int expected, int timeoutMilliseconds)
    {
        var timeout = stackalloc long[2];
        timeout[0] = timeoutMilliseconds / 1000;
        timeout[1] = (timeoutMilliseconds % 1000) * 1_000_000L;
        _ = Syscall(SysFutex, word, FutexWait, expected, timeout, null, 0);
    }

    public static void WakeAll(int* word) => _ = Syscall(SysFutex, word, FutexWake, int.MaxValue, null, null, 0);

    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial long Syscall(long number, int* word, int operation, int value, long* timeout, int* word2, int value3);
}
