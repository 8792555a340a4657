using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;
using Rpc.Transports.Internal.Interop;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// <c>shm://name</c>: same-machine connections over shared memory (Linux, 64-bit). A Unix socket at
/// <c>/dev/shm/rpc-&lt;name&gt;.sock</c> is the rendezvous; each connection then moves its bytes through its own mapped
/// segment, and the socket stays open only to tell each side that the other still lives.
/// </summary>
internal sealed class SharedMemoryTransportProvider : ITransportProvider
{
    private static readonly string[] SchemeNames = ["shm"];

    private readonly int? _ringBytes;

    /// <summary>Listeners use <see cref="TransportOptions.SharedMemoryRingSize"/>.</summary>
    public SharedMemoryTransportProvider()
    {
    }

    /// <param name="ringBytes">
    /// The size of each direction's ring for connections this provider accepts, whatever
    /// <see cref="TransportOptions.SharedMemoryRingSize"/> says (the client learns it in the handshake): a power of two from
    /// 4 KiB to 1 GiB. Each connection maps a 4 KiB header and two rings.
    /// </param>
    public SharedMemoryTransportProvider(int ringBytes)
    {
        if (!SharedMemorySegment.IsValidRingSize(ringBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(ringBytes), ringBytes, $"The ring size must be a power of two from {SharedMemorySegment.MinRingBytes} to {SharedMemorySegment.MaxRingBytes} bytes.");
        }

        _ringBytes = ringBytes;
    }

    public IReadOnlyList<string> Schemes => SchemeNames;

    public ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        var name = SharedMemoryName.Parse(endpoint);
        SocketOptionsValidation.Validate(options);
        var ringBytes = _ringBytes ?? options.SharedMemoryRingSize;
        if (!SharedMemorySegment.IsValidRingSize(ringBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(options), ringBytes, $"TransportOptions.SharedMemoryRingSize must be a power of two from {SharedMemorySegment.MinRingBytes} to {SharedMemorySegment.MaxRingBytes} bytes.");
        }

        EnsureSupported();
        cancellationToken.ThrowIfCancellationRequested();

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Owner-only socket, stale-file reclaim, "Another server is listening" for a live one: the Unix socket rules.
            var file = UnixSocketFile.BindAndListen(socket, SharedMemoryName.RendezvousPath(name), options.ListenBacklog);

            // We own the name now: segments left by a previous server that died mid-handshake can go.
            SharedMemorySegment.ReclaimStale(SharedMemoryName.Directory, SharedMemoryName.SegmentPrefix(name));
            return ValueTask.FromResult<TransportListener>(AcceptLoopListener.WithHandshake(
                socket, "shm://" + name, file, options.HandshakeTimeout, (client, token) => HandOverSegmentAsync(client, name, ringBytes, options, token)));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        var name = SharedMemoryName.Parse(endpoint);
        SocketOptionsValidation.Validate(options);
        EnsureSupported();
        cancellationToken.ThrowIfCancellationRequested();

        var display = "shm://" + name;
        var path = SharedMemoryName.RendezvousPath(name);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(options.ConnectTimeout);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);

            var (pid, uid) = PeerCredentials.TryGet(socket) ?? throw new IOException("Cannot read the peer's credentials of the rendezvous socket.");
            var owner = LibC.GetEffectiveUserId();
            if (uid != owner)
            {
                throw new IOException($"The server of {display} runs as uid {uid}, not as this process (uid {owner}); Rpc will not share memory with it.");
            }

            var segment = await SharedMemoryHandshake.AcceptOfferAsync(socket, name, display, timeout.Token).ConfigureAwait(false);
            var connection = new SharedMemoryConnection(segment, socket, isServer: false, options, FormattableString.Invariant($"{display} (server pid {pid})"));
            connection.Start();
            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {display} timed out after {options.ConnectTimeout.TotalSeconds:0.###} s.");
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var reason = ex.SocketErrorCode switch
            {
                _ when !File.Exists(path) => $"no server is listening (there is no rendezvous socket at {path}).",
                SocketError.ConnectionRefused => "nothing is listening there (connection refused; the server may have died).",
                SocketError.AccessDenied => "permission denied (the rendezvous socket belongs to another user).",
                _ => ex.Message + ".",
            };
            throw new IOException($"Could not connect to {display}: {reason}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Server side of one connection: hands the client its own new segment. Returns <see langword="null"/> (the accept loop
    /// closes the socket) for a client of another user.
    /// </summary>
    private static async ValueTask<TransportConnection?> HandOverSegmentAsync(Socket socket, string name, int ringBytes, TransportOptions options, CancellationToken cancellationToken)
    {
        var (pid, uid) = PeerCredentials.TryGet(socket) ?? throw new IOException("Cannot read the peer's credentials of the rendezvous socket.");
        if (uid != LibC.GetEffectiveUserId())
        {
            // The socket is 0600, so only root gets here; it still gets no segment of another user's server.
            return null;
        }

        var segment = await SharedMemoryHandshake.OfferAsync(socket, name, ringBytes, cancellationToken).ConfigureAwait(false);
        var connection = new SharedMemoryConnection(segment, socket, isServer: true, options, FormattableString.Invariant($"shm://{name} (peer pid {pid})"));
        connection.Start();
        return connection;
    }

    private static void EnsureSupported()
    {
        if (!OperatingSystem.IsLinux() || !Futex.IsSupported)
        {
            throw new PlatformNotSupportedException("shm:// endpoints are supported on 64-bit Linux only.");
        }
    }
}
