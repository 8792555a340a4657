using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.Connections;

/// <summary>
/// The one accept loop of every listener (unix, tcp, pipe, tls, shm): accepts sockets on a listening socket and turns
/// each into a connection through its transport's handshake, handing out only connections that are ready.
/// </summary>
/// <remarks>
/// <para>
/// A transport with a handshake (the TLS handshake, the shm rendezvous) runs it off the loop, concurrently with the
/// others, each bounded by <see cref="TransportOptions.HandshakeTimeout"/>: a client that connects and says nothing (or is
/// stopped, or speaks slowly) holds one slot until its deadline and delays nobody. A handshake that fails or times out
/// closes that socket only; the application never sees it.
/// </para>
/// <para>
/// A slot is held from accept until the application takes the connection from <see cref="AcceptAsync"/> (or it is
/// dropped). With every slot taken the loop stops accepting and the kernel backlog holds new clients, so a flood of silent
/// connections, or an application that stops accepting, costs bounded memory and threads. Without a handshake there is one
/// slot: the loop accepts one connection ahead of the application, as a pull-based accept would.
/// </para>
/// </remarks>
internal sealed class AcceptLoopListener : TransportListener
{
    /// <summary>Connections accepted but not yet taken by the application, at most, for a transport with a handshake.</summary>
    internal const int MaxPendingHandshakes = 1024;

    private readonly Socket _listenSocket;
    private readonly UnixSocketFile? _socketFile;
    private readonly Func<Socket, CancellationToken, ValueTask<TransportConnection?>> _establish;
    private readonly TimeSpan? _handshakeTimeout;
    private readonly SemaphoreSlim _pendingSlots;
    private readonly Channel<TransportConnection> _ready = Channel.CreateUnbounded<TransportConnection>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly CancellationTokenSource _disposing = new();
    private readonly HashSet<Task> _handshakes = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    private AcceptLoopListener(
        Socket listenSocket,
        string endpoint,
        UnixSocketFile? socketFile,
        TimeSpan? handshakeTimeout,
        Func<Socket, CancellationToken, ValueTask<TransportConnection?>> establish)
    {
        _listenSocket = listenSocket;
        Endpoint = endpoint;
        _socketFile = socketFile;
        _handshakeTimeout = handshakeTimeout;
        _establish = establish;
        _pendingSlots = new SemaphoreSlim(handshakeTimeout is null ? 1 : MaxPendingHandshakes);

        // Off the caller's thread: the first accept may complete synchronously.
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public override string Endpoint { get; }

    /// <summary>Raised (for tests and diagnostics) when a handshake fails or times out and its connection is dropped.</summary>
    internal event Action<Exception>? HandshakeFailed;

    /// <summary>Starts accepting for a transport without a handshake (plain sockets): each socket becomes a connection inline.</summary>
    /// <param name="listenSocket">The bound, listening socket; the listener owns it.</param>
    /// <param name="endpoint">The endpoint as bound, for <see cref="Endpoint"/>.</param>
    /// <param name="socketFile">The Unix socket file to remove on dispose, if any.</param>
    /// <param name="start">Starts the connection of an accepted socket, or returns <see langword="null"/> to refuse it (the socket is then closed).</param>
    public static AcceptLoopListener WithoutHandshake(Socket listenSocket, string endpoint, UnixSocketFile? socketFile, Func<Socket, TransportConnection?> start) =>
        new(listenSocket, endpoint, socketFile, handshakeTimeout: null, (socket, _) => ValueTask.FromResult(start(socket)));

    /// <summary>Starts accepting for a transport whose connections begin with a handshake, run concurrently off the loop.</summary>
    /// <param name="listenSocket">The bound, listening socket; the listener owns it.</param>
    /// <param name="endpoint">The endpoint as bound, for <see cref="Endpoint"/>.</param>
    /// <param name="socketFile">The Unix socket file to remove on dispose, if any.</param>
    /// <param name="handshakeTimeout">How long one handshake may take (<see cref="TransportOptions.HandshakeTimeout"/>).</param>
    /// <param name="handshake">
    /// Runs the handshake on an accepted socket until the token fires; returns the connection, or <see langword="null"/> to
    /// refuse the peer. When it fails or refuses, the loop closes the socket; anything else it built it releases itself.
    /// </param>
    public static AcceptLoopListener WithHandshake(
        Socket listenSocket, string endpoint, UnixSocketFile? socketFile, TimeSpan handshakeTimeout, Func<Socket, CancellationToken, ValueTask<TransportConnection?>> handshake) =>
        new(listenSocket, endpoint, socketFile, handshakeTimeout, handshake);

    public override async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        // WaitToReadAsync rethrows an accept error the loop completed the channel with.
        while (await _ready.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_ready.Reader.TryRead(out var connection))
            {
                _pendingSlots.Release();
                return connection;
            }
        }

        return null;
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Stops the accept loop and fails every handshake in progress; then drops connections nobody took.
        await _disposing.CancelAsync().ConfigureAwait(false);
        _listenSocket.Dispose();
        _socketFile?.RemoveIfOwned();
        await _acceptLoop.ConfigureAwait(false);
        Task[] handshakes;
        lock (_handshakes)
        {
            handshakes = [.. _handshakes];
        }

        await Task.WhenAll(handshakes).ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var orphan))
        {
            // The application never saw it: no linger for its peer.
            orphan.Abort();
            await orphan.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task AcceptLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                await _pendingSlots.WaitAsync(_disposing.Token).ConfigureAwait(false);
                if (await AcceptSocketAsync().ConfigureAwait(false) is not { } socket)
                {
                    break;
                }

                if (_handshakeTimeout is null)
                {
                    await EstablishAsync(socket).ConfigureAwait(false);
                    continue;
                }

                // On the thread pool: the first handshake step may already have its data and would otherwise run here.
                var handshake = Task.Run(() => EstablishAsync(socket), CancellationToken.None);
                lock (_handshakes)
                {
                    _handshakes.Add(handshake);
                }

                _ = handshake.ContinueWith(
                    static (task, state) =>
                    {
                        var set = (HashSet<Task>)state!;
                        lock (set)
                        {
                            set.Remove(task);
                        }
                    },
                    _handshakes,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            error = ex;
        }

        _ready.Writer.TryComplete(error);
    }

    /// <summary>Accepts the next socket; <see langword="null"/> once the listener is disposed. Other errors end the listener.</summary>
    private async ValueTask<Socket?> AcceptSocketAsync()
    {
        while (true)
        {
            try
            {
                // Asynchronous accept leaves the accepted socket in blocking mode: accept4() does not copy O_NONBLOCK from
                // the listening socket to the new one.
                return await _listenSocket.AcceptAsync(_disposing.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (_disposing.IsCancellationRequested && ex is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // The client gave up while its connection waited in the backlog; wait for the next one.
            }
        }
    }

    private async Task EstablishAsync(Socket socket)
    {
        using var deadline = _handshakeTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token);
        if (deadline is not null)
        {
            deadline.CancelAfter(_handshakeTimeout!.Value);
        }

        TransportConnection? connection;
        try
        {
            connection = await _establish(socket, deadline?.Token ?? _disposing.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            socket.Dispose();
            _pendingSlots.Release();
            var timedOut = deadline is { IsCancellationRequested: true } && !_disposing.IsCancellationRequested;
            HandshakeFailed?.Invoke(timedOut
                ? new TimeoutException($"A client of {Endpoint} did not complete its handshake within {_handshakeTimeout!.Value.TotalSeconds:0.###} s (TransportOptions.HandshakeTimeout); its connection was closed.", ex)
                : ex);
            return;
        }

        if (connection is null)
        {
            socket.Dispose();
            _pendingSlots.Release();
        }
        else if (!_ready.Writer.TryWrite(connection))
        {
            // The listener was disposed (or failed) while this handshake ran.
            connection.Abort();
            await connection.DisposeAsync().ConfigureAwait(false);
            _pendingSlots.Release();
        }
    }
}
