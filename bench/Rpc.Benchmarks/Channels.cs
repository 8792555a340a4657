using System;
using System.Diagnostics;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.IO.Pipes;
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
/// The busy-poll floors' wait between two non-blocking attempts that found nothing: spin (no sleep) for 20 ms, then let
/// the caller block until the channel is ready. In a measurement every reply comes within that window, so only the first
/// receive after an idle stretch ever blocks; blocking then keeps an idle busy-poll server (every row's server runs for
/// the whole run) from burning a core while other rows are measured. While spinning it calls <c>sched_yield</c> after
/// each 1 µs without data: the scheduler likes to put two threads that wake each other on one core (on a loaded machine
/// they often share one), and then the peer can only answer when the spinner lets it run; on a quiet machine, with
/// nothing else runnable, the call returns at once, and a shared-memory round trip (well under 1 µs each way) never
/// reaches it.
/// </summary>
internal struct BusyPoll(bool bounded)
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 50;
    private static readonly long YieldTicks = Stopwatch.Frequency / 1_000_000;
    private static readonly long GiveUpTicks = Stopwatch.Frequency * 30;
    private long _started;
    private long _lastYield;

    /// <summary>
    /// Called after each attempt that found nothing: <see langword="true"/> to try again at once; <see langword="false"/>
    /// once the spin window is over: the caller waits until ready (bounded, ≤ 100 ms) and tries again. Throws after 30 s
    /// without progress when bounded (clients; an idle server waits for ever).
    /// </summary>
    public bool Spin()
    {
        var now = Stopwatch.GetTimestamp();
        if (_started == 0)
        {
            _started = _lastYield = now;
        }

        var waited = now - _started;
        if (waited < SpinTicks)
        {
            if (now - _lastYield > YieldTicks)
            {
                Thread.Yield();
                _lastYield = now;
            }
            else
            {
                Thread.SpinWait(1);
            }

            return true;
        }

        if (bounded && waited > GiveUpTicks)
        {
            throw new TimeoutException("The peer made no progress for 30 s.");
        }

        return false;
    }
}

/// <summary>
/// A non-blocking socket polled in a spin loop (<c>Socket.Receive</c>/<c>Send</c> returning <c>WouldBlock</c> instead
/// of sleeping in the kernel): the floor without the cost of waking a blocked thread. Also used for the named pipe
/// (<see cref="FromPipe"/>), which on Linux is a Unix socket.
/// </summary>
internal sealed class BusyPollSocketChannel : IRawChannel
{
    private const int ReadyWaitMicroseconds = 100_000;
    private readonly Socket _socket;
    private readonly bool _bounded;
    private readonly IDisposable? _owner;

    public BusyPollSocketChannel(Socket socket, bool bounded, IDisposable? owner = null)
    {
        _socket = socket;
        _bounded = bounded;
        _owner = owner;
        socket.Blocking = false;
    }

    /// <summary>Polls the Unix socket under a connected named pipe stream (which stays the owner of the descriptor).</summary>
    public static BusyPollSocketChannel FromPipe(PipeStream pipe, bool bounded) =>
        new(new Socket(new SafeSocketHandle(pipe.SafePipeHandle.DangerousGetHandle(), ownsHandle: false)), bounded, pipe);

    public int Receive(Span<byte> buffer)
    {
        var poll = new BusyPoll(_bounded);
        while (true)
        {
            var read = _socket.Receive(buffer, SocketFlags.None, out var error);
            if (error == SocketError.Success)
            {
                return read;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            if (!poll.Spin())
            {
                _socket.Poll(ReadyWaitMicroseconds, SelectMode.SelectRead);
            }
        }
    }

    public void Send(ReadOnlySpan<byte> buffer)
    {
        var poll = new BusyPoll(_bounded);
        while (!buffer.IsEmpty)
        {
            var sent = _socket.Send(buffer, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                if (!poll.Spin())
                {
                    _socket.Poll(ReadyWaitMicroseconds, SelectMode.SelectWrite);
                }

                continue;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            buffer = buffer[sent..];
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _owner?.Dispose();
    }
}

/// <summary>
/// Two anonymous pipes, both ends this side uses switched to <c>O_NONBLOCK</c> and driven by <c>read(2)</c>/<c>write(2)</c>
/// in a spin loop (.NET's pipe streams have no non-blocking mode). The descriptors stay owned by the streams.
/// </summary>
internal sealed unsafe class BusyPollPipeChannel : IRawChannel
{
    private const int ReadyWaitMilliseconds = 100;
    private readonly PipeStream _input;
    private readonly PipeStream _output;
    private readonly int _inputDescriptor;
    private readonly int _outputDescriptor;
    private readonly bool _bounded;

    public BusyPollPipeChannel(PipeStream input, PipeStream output, bool bounded)
    {
        _input = input;
        _output = output;
        _bounded = bounded;
        _inputDescriptor = (int)input.SafePipeHandle.DangerousGetHandle();
        _outputDescriptor = (int)output.SafePipeHandle.DangerousGetHandle();
        Libc.SetNonBlocking(_inputDescriptor);
        Libc.SetNonBlocking(_outputDescriptor);
    }

    public int Receive(Span<byte> buffer)
    {
        var poll = new BusyPoll(_bounded);
        fixed (byte* pointer = buffer)
        {
            while (true)
            {
                var read = Libc.Read(_inputDescriptor, pointer, buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }

                ThrowUnlessWouldBlock("read");
                if (!poll.Spin())
                {
                    Libc.WaitUntilReady(_inputDescriptor, Libc.PollIn, ReadyWaitMilliseconds);
                }
            }
        }
    }

    public void Send(ReadOnlySpan<byte> buffer)
    {
        var poll = new BusyPoll(_bounded);
        fixed (byte* pointer = buffer)
        {
            var sent = 0;
            while (sent < buffer.Length)
            {
                var written = Libc.Write(_outputDescriptor, pointer + sent, buffer.Length - sent);
                if (written >= 0)
                {
                    sent += (int)written;
                    continue;
                }

                ThrowUnlessWouldBlock("write");
                if (!poll.Spin())
                {
                    Libc.WaitUntilReady(_outputDescriptor, Libc.PollOut, ReadyWaitMilliseconds);
                }
            }
        }
    }

    public void Dispose()
    {
        _input.Dispose();
        _output.Dispose();
    }

    private static void ThrowUnlessWouldBlock(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        if (errno != Libc.EAGAIN)
        {
            throw new IOException($"{call}(2) on the pipe failed: errno {errno}.");
        }
    }
}

/// <summary>
/// The shared-memory floors: a file in /dev/shm mapped by both processes, holding two single-producer/single-consumer
/// byte rings (ring 0 server → client, ring 1 client → server). 8-byte free-running <c>Head</c>/<c>Tail</c> counters.
/// <see cref="SharedMemoryWait.SpinThenFutex"/>: a waiting side spins up to 20 µs, then sleeps with <c>FUTEX_WAIT</c>
/// (non-private) on the low 32 bits of the counter it waits for, Dekker style (set "waiting" flag, full fence, re-check,
/// sleep); the other side publishes its counter, full fence, and calls <c>FUTEX_WAKE</c> only when the flag is set.
/// <see cref="SharedMemoryWait.BusySpin"/>: both sides spin on the counter (<see cref="BusyPoll"/>) and publish with a
/// plain release store: no fence, no flag, no futex, the best this ring can do. Deliberately minimal: no handshake, no
/// liveness checks beyond bounded waits (30 s total without progress fails the client's wait).
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

    private SharedMemoryChannel(MemoryMappedFile file, bool server, SharedMemoryWait wait)
    {
        _file = file;
        _view = file.CreateViewAccessor(0, FileBytes);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        // The server idles while other rows are measured: only the client's waits are bounded (30 s without progress).
        var busy = wait == SharedMemoryWait.BusySpin;
        var ring0 = new Ring(_base, 0, bounded: !server, busy);
        var ring1 = new Ring(_base, 1, bounded: !server, busy);
        _receive = server ? ring1 : ring0;
        _send = server ? ring0 : ring1;
    }

    public static long FileBytes => HeaderBytes + (2L * RingBytes);

    /// <summary>Server side: creates (exclusively) and maps the file.</summary>
    public static SharedMemoryChannel Create(string path, SharedMemoryWait wait)
    {
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            stream.SetLength(FileBytes);
        }

        return Open(path, server: true, wait);
    }

    /// <summary>Client side: maps the file the server created, then unlinks it (the mappings outlive the name).</summary>
    public static SharedMemoryChannel Connect(string path, SharedMemoryWait wait)
    {
        var channel = Open(path, server: false, wait);
        File.Delete(path);
        return channel;
    }

    private static SharedMemoryChannel Open(string path, bool server, SharedMemoryWait wait)
    {
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, FileBytes, MemoryMappedFileAccess.ReadWrite);
        return new SharedMemoryChannel(file, server, wait);
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
    private readonly struct Ring(byte* fileBase, int index, bool bounded, bool busy)
    {
        private readonly long* _head = (long*)(fileBase + (index * 1024));
        private readonly int* _consumerWaiting = (int*)(fileBase + (index * 1024) + 64);
        private readonly long* _tail = (long*)(fileBase + (index * 1024) + 128);
        private readonly int* _producerWaiting = (int*)(fileBase + (index * 1024) + 192);
        private readonly byte* _data = fileBase + HeaderBytes + ((long)index * RingBytes);
        private readonly bool _bounded = bounded;
        private readonly bool _busy = busy;

        public int Read(Span<byte> destination)
        {
            var tail = Volatile.Read(ref *_tail);
            var head = Volatile.Read(ref *_head);
            if (head == tail)
            {
                head = _busy ? SpinWhileEqual(_head, tail, _bounded) : WaitWhileEqual(_head, tail, _consumerWaiting, _bounded);
            }

            var count = (int)Math.Min(head - tail, destination.Length);
            var start = (int)(tail & (RingBytes - 1));
            var first = Math.Min(count, RingBytes - start);
            new ReadOnlySpan<byte>(_data + start, first).CopyTo(destination);
            if (count > first)
            {
                new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
            }

            Publish(_tail, tail + count, _producerWaiting, _busy);
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
                    tail = _busy ? SpinWhileEqual(_tail, tail, _bounded) : WaitWhileEqual(_tail, tail, _producerWaiting, _bounded);
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
                Publish(_head, head, _consumerWaiting, _busy);
                source = source[count..];
            }
        }

        /// <summary>Publishes a counter; with futex waits (release + full fence), then wakes the peer only if it said it sleeps.</summary>
        private static void Publish(long* counter, long value, int* peerWaiting, bool busy)
        {
            if (busy)
            {
                // The peer never sleeps on the counter: a release store is all it needs to see the data before it.
                Volatile.Write(ref *counter, value);
                return;
            }

            Interlocked.Exchange(ref *counter, value);
            if (Volatile.Read(ref *peerWaiting) != 0)
            {
                Libc.FutexWakeAll((int*)counter);
            }
        }

        /// <summary>Waits until <c>*counter != seen</c> without ever entering the kernel while the peer is active.</summary>
        private static long SpinWhileEqual(long* counter, long seen, bool bounded)
        {
            var poll = new BusyPoll(bounded);
            long value;
            while ((value = Volatile.Read(ref *counter)) == seen)
            {
                if (!poll.Spin())
                {
                    // Idle: check once a millisecond (no futex, so the writer never has to look for a sleeper).
                    Thread.Sleep(1);
                }
            }

            return value;
        }

        /// <summary>Waits until <c>*counter != seen</c>: spin ≤ 20 µs, then futex on its low 32 bits (Dekker flag).</summary>
        private static long WaitWhileEqual(long* counter, long seen, int* waiting, bool bounded)
        {
            var spinUntil = Stopwatch.GetTimestamp() + (SpinTicksLimit * Stopwatch.Frequency / 1_000_000);
            long value;
            while ((value = Volatile.Read(ref *counter)) == seen)
            {
                if (Stopwatch.GetTimestamp() > spinUntil)
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

                Libc.FutexWait((int*)counter, unchecked((int)seen), 1_000);
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

/// <summary>How a shared-memory floor waits for its peer.</summary>
internal enum SharedMemoryWait
{
    /// <summary>Spin ≤ 20 µs, then <c>FUTEX_WAIT</c> (what a transport that must idle cheaply does).</summary>
    SpinThenFutex,

    /// <summary>Both sides spin, no futex (the ring's best case; a core per side while active).</summary>
    BusySpin,
}

/// <summary>
/// The libc calls the floors need (x86-64 Linux): <c>futex(2)</c> through <c>syscall(SYS_futex = 202)</c>, non-private
/// (the word is in a shared mapping); <c>read(2)</c>, <c>write(2)</c>, <c>poll(2)</c> and <c>fcntl(2)</c> for the
/// non-blocking pipe floor.
/// </summary>
internal static unsafe partial class Libc
{
    public const int EAGAIN = 11;
    public const short PollIn = 0x1;
    public const short PollOut = 0x4;
    private const long SysFutex = 202;
    private const int FutexWaitOperation = 0;
    private const int FutexWakeOperation = 1;
    private const int GetStatusFlags = 3;
    private const int SetStatusFlags = 4;
    private const int NonBlocking = 0x800;

    public static void FutexWait(int* word, int expected, int timeoutMilliseconds)
    {
        var timeout = stackalloc long[2];
        timeout[0] = timeoutMilliseconds / 1000;
        timeout[1] = (timeoutMilliseconds % 1000) * 1_000_000L;
        _ = Syscall(SysFutex, word, FutexWaitOperation, expected, timeout, null, 0);
    }

    public static void FutexWakeAll(int* word) => _ = Syscall(SysFutex, word, FutexWakeOperation, int.MaxValue, null, null, 0);

    public static void SetNonBlocking(int descriptor)
    {
        var flags = Fcntl(descriptor, GetStatusFlags, 0);
        if (flags < 0 || Fcntl(descriptor, SetStatusFlags, flags | NonBlocking) < 0)
        {
            throw new IOException($"fcntl(O_NONBLOCK) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Blocks until <paramref name="descriptor"/> is ready for <paramref name="events"/> or the timeout passes.</summary>
    public static void WaitUntilReady(int descriptor, short events, int timeoutMilliseconds)
    {
        var entry = new PollEntry { Descriptor = descriptor, Events = events };
        _ = Poll(&entry, 1, timeoutMilliseconds);
    }

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int descriptor, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int descriptor, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollEntry* entries, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial long Syscall(long number, int* word, int operation, int value, long* timeout, int* word2, int value3);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int descriptor, int command, int argument);

    /// <summary><c>struct pollfd</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct PollEntry
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
