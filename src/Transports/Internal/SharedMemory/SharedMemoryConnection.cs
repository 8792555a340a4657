using System;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// A shared-memory connection exposed as an <see cref="IDuplexPipe"/>: two rings in one mapped segment, plus the
/// rendezvous socket kept open only as a liveness signal.
/// </summary>
/// <remarks>
/// <para>
/// Input: a dedicated thread waits for bytes in the inbound ring (spinning briefly, then sleeping on a futex) and copies
/// them into <see cref="InputReader"/>, the runtime's <see cref="PipeReader"/> itself; when the runtime waits for bytes,
/// its read completes on that thread, so the runtime's read loop runs there, with no pipe in between. When the runtime
/// holds <see cref="TransportOptions.MaxBufferedInputBytes"/> unread, the thread stops taking bytes from the ring: the ring
/// fills, and the peer's writer waits. Back-pressure, never unbounded memory.
/// </para>
/// <para>
/// Output: <see cref="OutputWriter"/> is the runtime's <see cref="PipeWriter"/> itself: frames are buffered, and the
/// runtime's <c>FlushAsync</c> copies them into the outbound ring on the runtime's thread, with no pipe or send loop in
/// between. A full ring makes it wait (spin, then futex) for the peer to consume; a payload larger than the ring streams
/// through it in pieces.
/// </para>
/// <para>
/// Liveness: the kernel closes the peer's end of the rendezvous socket when the peer process dies, however it dies, so a
/// readable socket (nothing is ever sent on it after the handshake) means "gone". Every futex sleep is bounded by
/// <see cref="LivenessIntervalMilliseconds"/>, after which the sleeper looks at the socket. A stopped or GC-paused peer
/// keeps its socket open and is never mistaken for a dead one.
/// </para>
/// <para>
/// Teardown: the mapping must outlive every thread that may touch it. The receive thread and the writer each hold a
/// reference (the writer's ends once it is completed or the connection aborted, and nobody is copying into the ring); the
/// last one to end unmaps the segment and closes the socket. <see cref="ConnectionLifetime.Abort"/> touches shared memory only
/// under <see cref="ConnectionLifetime.StateLock"/> and only before that release. The lifecycle (abort,
/// dispose and its linger, how the input completes) is <see cref="ConnectionLifetime"/>'s.
/// </para>
/// </remarks>
internal sealed partial class SharedMemoryConnection : ConnectionLifetime, IDuplexPipe
{
    /// <summary>
    /// How long a waiting side spins before it sleeps until it has measured what a wake-up costs (then: about twice that;
    /// see <see cref="SpscRing"/>). A reply within this time costs no wake-up.
    /// </summary>
    internal const int SpinMicroseconds = SpscRing.DefaultSpinMicroseconds;

    /// <summary>The longest futex sleep: how often a waiting side checks that its peer still lives.</summary>
    internal const int LivenessIntervalMilliseconds = 100;

    /// <summary>The receive buffer's size when small frames are all there is (it grows for large ones).</summary>
    private const int InitialReceiveBufferSize = 16 * 1024;

    /// <summary>Free space below which the receive buffer is compacted or grown before the next copy from the ring.</summary>
    private const int MinimumReceiveSize = 4 * 1024;

    /// <summary>Bytes copied from the ring per delivery at most, so the runtime starts parsing before a large payload has all arrived.</summary>
    private const int MaxReceiveBatch = 256 * 1024;

    private readonly SharedMemorySegment _segment;
    private readonly Socket _liveness;
    private readonly SpscRing _in;
    private readonly SpscRing _out;
    private readonly InputReader _reader;
    private readonly OutputWriter _writer;
    private readonly TaskCompletionSource _sendDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _released;
    private int _activeLoops = 2;

    // Writer state, under StateLock: a thread is copying into the outbound ring; the writer has ended for good; the abort
    // ended it (nobody was copying); why a send failed (later flushes throw it).
    private bool _sending;
    private bool _writerEnded;
    private bool _writerEndedByAbort;
    private Exception? _sendError;

    /// <param name="segment">The mapped segment; the connection owns it from here on.</param>
    /// <param name="liveness">The rendezvous socket; the connection owns it from here on.</param>
    /// <param name="isServer">The server writes ring 0 and reads ring 1; the client the other way round.</param>
    /// <param name="options">The transport options of the listener or the client that made the connection.</param>
    /// <param name="remoteEndpoint">The peer, as <see cref="TransportConnection.RemoteEndpoint"/> reports it.</param>
    public SharedMemoryConnection(SharedMemorySegment segment, Socket liveness, bool isServer, TransportOptions options, string remoteEndpoint)
    {
        _segment = segment;
        _liveness = liveness;
        try
        {
            _out = segment.Ring(isServer ? 0 : 1);
            _in = segment.Ring(isServer ? 1 : 0);
        }
        catch (IOException)
        {
            // The peer left the rings' positions inconsistent: the caller disposes the socket, we own the segment.
            segment.Dispose();
            throw;
        }

        RemoteEndpoint = remoteEndpoint;

        _reader = new InputReader(this, options.MaxBufferedInputBytes);
        _writer = new OutputWriter(this);
    }

    public override IDuplexPipe Transport => this;

    public override string RemoteEndpoint { get; }

    PipeReader IDuplexPipe.Input => _reader;

    PipeWriter IDuplexPipe.Output => _writer;

    /// <summary>Starts the receive thread. Called once, right after construction.</summary>
    public void Start()
    {
        StartReceiveThread("Rpc shm receive " + RemoteEndpoint);
    }

    protected override bool IsClosed => _released;

    protected override void AbortUnderLock()
    {
        // Like a reset: the peer's reader fails instead of seeing a clean end, and its writer stops waiting for us.
        if (_out.ProducerState == SpscRing.StateOpen)
        {
            _out.ProducerState = SpscRing.StateAborted;
        }

        _in.ConsumerState = SpscRing.StateClosed;

        // Wakes our own sleepers (receive thread, blocked sender) as well as the peer's.
        _out.WakeAll();
        _in.WakeAll();

        // Unsent bytes are dropped. A thread copying into the ring right now ends the writer when it lets go.
        _writerEndedByAbort = !_sending && !_writerEnded;
        _writerEnded |= _writerEndedByAbort;
    }

    protected override void AbortOutsideLock(Exception? reason)
    {
        // Release a receive thread waiting on back-pressure.
        _reader.Interrupt();
        if (_writerEndedByAbort)
        {
            _sendDone.TrySetResult();
            ReleaseLoop();
        }
    }

    protected override ValueTask CompleteOutputAsync()
    {
        // Copies whatever the runtime wrote into the ring (now, or when a flush under way lets go), then marks our direction
        // closed, which the peer reads as end-of-stream once it has every byte before it.
        _writer.Complete();
        return new ValueTask(_sendDone.Task);
    }

    protected override void CompleteInput() => _reader.Complete();

    protected override void StopReceivingUnderLock()
    {
        _in.ConsumerState = SpscRing.StateClosed;
        _in.WakeAll();
    }

    protected override void AfterStopReceiving() => _reader.Interrupt();

    /// <summary>Marks our direction finished: the peer reads end-of-stream once it has everything we wrote.</summary>
    private void ShutdownSend()
    {
        lock (StateLock)
        {
            if (_released || _out.ProducerState != SpscRing.StateOpen)
            {
                return;
            }

            // After the last head publication, so a reader that sees "closed" also sees every byte before it.
            _out.ProducerState = SpscRing.StateClosed;
            _out.WakeAll();
        }
    }

    /// <summary>Called by the receive thread and the writer as each ends; the last one releases the mapping and socket.</summary>
    private void ReleaseLoop()
    {
        if (Interlocked.Decrement(ref _activeLoops) != 0)
        {
            return;
        }

        lock (StateLock)
        {
            // Neither loop runs any more: tell the peer nobody reads or writes this connection, then let go of the memory.
            if (_out.ProducerState == SpscRing.StateOpen)
            {
                _out.ProducerState = IsAborted ? SpscRing.StateAborted : SpscRing.StateClosed;
            }

            _in.ConsumerState = SpscRing.StateClosed;
            _out.WakeAll();
            _in.WakeAll();
            _released = true;
        }

        _segment.Dispose();
        _liveness.Dispose();
    }

    /// <summary>Gets whether the peer process has closed the rendezvous socket (it exited, or finished disposing).</summary>
    private bool PeerGone()
    {
        try
        {
            // Nothing is sent on the socket after the handshake: readable means end-of-file or an error.
            return _liveness.Poll(0, SelectMode.SelectRead);
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private IOException PeerLost() =>
        new($"The connection to {RemoteEndpoint} was lost: the peer process exited without closing it.");
}
