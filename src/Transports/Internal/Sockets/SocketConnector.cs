using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>Client-side connect with a timeout, and the start of every connection.</summary>
internal static class SocketConnector
{
    // The operating system's TCP keepalive (see EnableTcpKeepAlive): probe after this many seconds without a segment...
    internal const int TcpKeepAliveIdleSeconds = 30;

    // ...then every this many seconds...
    internal const int TcpKeepAliveIntervalSeconds = 10;

    // ...and declare the peer dead after this many unanswered probes: 30 + 3 × 10 = 60 s after the last segment.
    internal const int TcpKeepAliveProbes = 3;

    /// <summary>Starts a connected socket (both the connecting and the accepting side of every socket transport pass here).</summary>
    public static SocketConnection StartConnection(Socket socket, TransportOptions options, string remoteEndpoint)
    {
        if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            // Small RPC frames must leave at once, not wait for Nagle's algorithm to coalesce them.
            socket.NoDelay = true;
            EnableTcpKeepAlive(socket);
        }

        var connection = new SocketConnection(socket, options, remoteEndpoint);
        connection.Start();
        return connection;
    }

    /// <summary>
    /// Turns on the kernel's keepalive probes: a safety net below the runtime's own pings
    /// (<c>RpcConnectionOptions.KeepAliveInterval</c>), for a connection whose pings are turned off. A peer machine that
    /// vanished then fails the socket's pending receive about a minute after the last segment, instead of after Linux's
    /// default of two hours and eleven minutes. Probes are sent only while the connection is idle at the TCP level, so they
    /// cost nothing on a busy connection.
    /// </summary>
    private static void EnableTcpKeepAlive(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, TcpKeepAliveIdleSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, TcpKeepAliveIntervalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, TcpKeepAliveProbes);
    }

    /// <summary>Connects to the first of <paramref name="candidates"/> that accepts, within the connect timeout.</summary>
    /// <exception cref="TimeoutException">No candidate answered within <see cref="TransportOptions.ConnectTimeout"/>.</exception>
    /// <exception cref="IOException">Every candidate refused; the inner exception is the last <see cref="SocketException"/>.</exception>
    public static async ValueTask<TransportConnection> ConnectAsync(
        EndPoint[] candidates, string endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Anything longer than SO_SNDTIMEO can express (int milliseconds, ~24 days) counts as no timeout.
        var infinite = options.ConnectTimeout == Timeout.InfiniteTimeSpan || options.ConnectTimeout.TotalMilliseconds >= int.MaxValue;
        var deadline = infinite ? DateTime.MaxValue : DateTime.UtcNow + options.ConnectTimeout;
        SocketException? lastError = null;
        foreach (var candidate in candidates)
        {
            var remaining = deadline == DateTime.MaxValue ? Timeout.InfiniteTimeSpan : deadline - DateTime.UtcNow;
            if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
            {
                break;
            }

            var socket = new Socket(candidate.AddressFamily, SocketType.Stream, candidate.AddressFamily == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
            try
            {
                if (options.UseDedicatedReceiveThread)
                {
                    await ConnectBlockingAsync(socket, candidate, remaining, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await ConnectNonBlockingAsync(socket, candidate, remaining, cancellationToken).ConfigureAwait(false);
                }

                return StartConnection(socket, options, endpoint);
            }
            catch (SocketException ex) when (IsTimeout(ex))
            {
                socket.Dispose();
                throw new TimeoutException($"Connecting to {endpoint} timed out after {options.ConnectTimeout.TotalSeconds:0.###} s.", ex);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
            catch (OperationCanceledException) when (options.UseDedicatedReceiveThread)
            {
                // The abandoned blocking connect still uses the socket; ConnectBlockingAsync disposes it when it ends.
                throw;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        if (lastError is null)
        {
            throw new TimeoutException($"Connecting to {endpoint} timed out after {options.ConnectTimeout.TotalSeconds:0.###} s.");
        }

        throw new IOException($"Could not connect to {endpoint}: {Explain(lastError, candidates)}", lastError);
    }

    internal static bool IsTimeout(SocketException ex) =>
        ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.InProgress;

    private static string Explain(SocketException error, EndPoint[] candidates)
    {
        if (candidates.Length == 1 && candidates[0] is UnixDomainSocketEndPoint unix && !File.Exists(unix.ToString()) && !Directory.Exists(unix.ToString()))
        {
            return "no socket file exists at that path (is the server running?).";
        }

        return error.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "nothing is listening there (connection refused).",
            SocketError.AccessDenied => "permission denied (the socket belongs to another user).",
            _ => error.Message + ".",
        };
    }

    /// <summary>
    /// A blocking connect, so the socket never touches the asynchronous path (see <see cref="SocketConnection"/>).
    /// </summary>
    internal static async Task ConnectBlockingAsync(Socket socket, EndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // On Linux a blocking connect() honours SO_SNDTIMEO: TCP gives up with ETIMEDOUT/EINPROGRESS, a Unix socket whose
        // listener has a full backlog with EAGAIN. That bounds the wait without an asynchronous operation. Closing the
        // socket would not interrupt a blocking connect, so the timeout is the only way out of it.
        socket.SendTimeout = timeout == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, (int)Math.Ceiling(timeout.TotalMilliseconds));

        // Loopback and Unix connects finish at once; a thread-pool thread keeps a slow remote connect off the caller.
        var connect = Task.Run(() =>
        {
            socket.Connect(endpoint);
            socket.SendTimeout = 0;
        }, CancellationToken.None);
        try
        {
            await connect.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The abandoned connect ends within the timeout; release its socket then.
            _ = connect.ContinueWith(static (task, state) => { _ = task.Exception; ((Socket)state!).Dispose(); }, socket, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    private static async Task ConnectNonBlockingAsync(Socket socket, EndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            timeoutSource.CancelAfter(timeout);
        }

        try
        {
            await socket.ConnectAsync(endpoint, timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }
}
