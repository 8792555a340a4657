using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// Accepts TCP connections from the socket transport's listener and hands out only those whose TLS handshake succeeded.
/// </summary>
/// <remarks>
/// Handshakes run concurrently, off the accept loop, each bounded by <see cref="TlsOptions.HandshakeTimeout"/>: a client
/// that connects and says nothing (or speaks slowly, or not TLS) holds one slot until its deadline and delays nobody.
/// A failed handshake drops that connection only.
/// </remarks>
internal sealed class TlsListener : TransportListener
{
    /// <summary>
    /// Handshakes in progress at once. Beyond this the listener stops accepting (the kernel backlog then holds new
    /// clients) so that a flood of silent connections costs bounded memory and threads.
    /// </summary>
    internal const int MaxConcurrentHandshakes = 1024;

    private readonly TransportListener _tcp;
    private readonly TlsOptions _tls;
    private readonly TransportOptions _options;
    private readonly SslStreamCertificateContext _certificate;
    private readonly Channel<TransportConnection> _ready = Channel.CreateUnbounded<TransportConnection>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly SemaphoreSlim _handshakeSlots = new(MaxConcurrentHandshakes);
    private readonly CancellationTokenSource _disposing = new();
    private readonly HashSet<Task> _handshakes = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    public TlsListener(TransportListener tcp, string endpoint, TlsOptions tls, SslStreamCertificateContext certificate, TransportOptions options)
    {
        _tcp = tcp;
        Endpoint = endpoint;
        _tls = tls;
        _certificate = certificate;
        _options = options;
        _acceptLoop = AcceptLoopAsync();
    }

    public override string Endpoint { get; }

    /// <summary>Raised (for tests and diagnostics) when a handshake fails and its connection is dropped.</summary>
    internal event Action<string, Exception>? HandshakeFailed;

    public override async ValueTask<TransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        // WaitToReadAsync rethrows an error the accept loop completed the channel with, as the TCP listener would have thrown it.
        while (await _ready.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_ready.Reader.TryRead(out var connection))
            {
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

        // Stops the accept loop and fails every handshake in progress; then closes connections nobody accepted.
        await _disposing.CancelAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
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
            await orphan.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task AcceptLoopAsync()
    {
        // Off the caller's thread: the constructor must return before the first accept completes.
        await Task.Yield();
        Exception? error = null;
        try
        {
            while (true)
            {
                await _handshakeSlots.WaitAsync(_disposing.Token).ConfigureAwait(false);
                var tcp = await _tcp.AcceptAsync(_disposing.Token).ConfigureAwait(false);
                if (tcp is null)
                {
                    break;
                }

                // On the thread pool: the first handshake step may already have its data and would otherwise run here.
                var handshake = Task.Run(() => HandshakeAsync(tcp), CancellationToken.None);
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

    private async Task HandshakeAsync(TransportConnection tcp)
    {
        var remote = "tls://" + StripScheme(tcp.RemoteEndpoint);
        try
        {
            var connection = await TlsHandshake.AuthenticateAsServerAsync(tcp, remote, _tls, _certificate, _options, _disposing.Token).ConfigureAwait(false);
            if (!_ready.Writer.TryWrite(connection))
            {
                // The listener was disposed while this handshake ran.
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // The handshake dropped the connection already. Nobody is waiting for it: the error goes to diagnostics only.
            HandshakeFailed?.Invoke(remote, ex);
        }
        finally
        {
            _handshakeSlots.Release();
        }
    }

    internal static string StripScheme(string endpoint)
    {
        var separator = endpoint.IndexOf("://", StringComparison.Ordinal);
        return separator < 0 ? endpoint : endpoint[(separator + 3)..];
    }
}
