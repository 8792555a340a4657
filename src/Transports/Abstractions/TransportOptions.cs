using System;

namespace Rpc.Transports;

/// <summary>Settings shared by every transport.</summary>
public sealed class TransportOptions
{
    /// <summary>Gets the defaults.</summary>
    public static TransportOptions Default { get; } = new();

    /// <summary>
    /// Gets or sets how many received bytes may wait unread before the transport stops reading from the peer, so that
    /// back-pressure reaches the sender instead of memory growing. It must exceed the largest frame the runtime accepts,
    /// because a frame is processed only once it is complete. Default: 64 MiB + 64 KiB.
    /// </summary>
    public long MaxBufferedInputBytes { get; set; } = (64L * 1024 * 1024) + (64 * 1024);

    /// <summary>Gets or sets how long a connect may take before it fails with <see cref="TimeoutException"/>. Default: 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how long a listener gives an accepted client to complete its transport handshake (the TLS handshake
    /// of <c>tls://</c>, the segment hand-over of <c>shm://</c>) before it closes that connection. Handshakes run
    /// concurrently, off the accept loop, so a silent or stopped client delays no other client; this bounds how long it
    /// holds a connection the application never sees. Must be positive and finite. Transports without a handshake
    /// (<c>unix</c>, <c>tcp</c>, <c>pipe</c>) have nothing to bound; on <c>tls://</c>, <see cref="TlsOptions.HandshakeTimeout"/>
    /// applies as well and the shorter one wins. An Rpc server then gives each client as long again, on every transport, to
    /// send its first byte (which tells its protocol). Default: 10 s.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets whether each connection reads on a dedicated thread with blocking receives (the default).
    /// A blocking receive wakes exactly one thread per message, where the asynchronous socket path adds a hop from the
    /// event thread to the thread pool (~40 µs here); set <see langword="false"/> for servers with thousands of connections.
    /// </summary>
    public bool UseDedicatedReceiveThread { get; set; } = true;

    /// <summary>Gets or sets the listen backlog. Default: 512.</summary>
    public int ListenBacklog { get; set; } = 512;

    /// <summary>
    /// Gets or sets the size in bytes of each direction's ring of an <c>shm://</c> connection: a power of two from 4 KiB
    /// (4,096) to 1 GiB. The listener's setting applies (a client learns it when it connects, so a client's setting is
    /// ignored); each connection maps two rings plus a 4 KiB header in <c>/dev/shm</c>. A larger ring lets a writer run
    /// further ahead of a slow reader before it waits; a payload larger than the ring still streams through it in pieces.
    /// Other transports ignore it. Default: 1 MiB (1,048,576).
    /// </summary>
    public int SharedMemoryRingSize { get; set; } = Internal.SharedMemory.SharedMemorySegment.DefaultRingBytes;

    /// <summary>
    /// Gets or sets the TLS settings of <c>tls://</c> endpoints: the certificate a server presents (required to listen),
    /// client certificates, and how the peer's certificate is validated. Default: <see langword="null"/>, which a client
    /// treats as the defaults of <see cref="TlsOptions"/> (system roots, server name checked against the endpoint's host).
    /// Other transports ignore it.
    /// </summary>
    public TlsOptions? Tls { get; set; }
}
