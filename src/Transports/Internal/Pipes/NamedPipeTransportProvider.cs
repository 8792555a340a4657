using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Connections;
using Rpc.Transports.Internal.Interop;
using Rpc.Transports.Internal.Sockets;

namespace Rpc.Transports.Internal.Pipes;

/// <summary><c>pipe://name</c>: .NET named pipes, which on Unix are Unix domain sockets in the temp directory.</summary>
/// <remarks>
/// Implemented as a Unix socket at the very path .NET's <c>NamedPipeServerStream</c> uses
/// (<c>Path.GetTempPath() + "CoreFxPipe_" + name</c>) rather than on the pipe stream classes: it keeps the socket
/// transport's fast path (dedicated receive thread, blocking <c>recv()</c>/<c>send()</c>, no Stream↔pipe copy loop, which
/// on the stream classes would also ride .NET's asynchronous socket path and cost ~40 µs more per call), it reuses
/// <see cref="UnixSocketFile"/> for the owner-only mode and stale-file reclaim, and it still interoperates both ways with
/// <c>NamedPipeClientStream</c> and <c>NamedPipeServerStream</c>, which speak plain bytes over the same socket.
/// </remarks>
internal sealed class NamedPipeTransportProvider : ITransportProvider
{
    /// <summary>The prefix .NET gives the socket file of a named pipe on Unix.</summary>
    internal const string FilePrefix = "CoreFxPipe_";

    private static readonly string[] SchemeNames = ["pipe"];

    public IReadOnlyList<string> Schemes => SchemeNames;

    /// <summary>Checks a <c>pipe://</c> endpoint and returns the path of its socket file.</summary>
    /// <exception cref="FormatException">The endpoint is not <c>pipe://name</c>.</exception>
    /// <exception cref="ArgumentException">The path is longer than a Unix socket address can hold.</exception>
    internal static string GetPath(RpcEndpoint endpoint)
    {
        var name = endpoint.Host;
        if (name.Length == 0 || endpoint.Port >= 0 || endpoint.Path.Length != 0
            || name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
        {
            throw new FormatException($"'{endpoint.Original}' is not a named pipe endpoint: expected pipe://name, where the name has no '/', ':' or NUL, for example pipe://my-app.");
        }

        if (string.Equals(name, "anonymous", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"'{endpoint.Original}': the pipe name 'anonymous' is reserved by .NET.");
        }

        var path = Path.Combine(Path.GetTempPath(), FilePrefix + name);
        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > UnixSocketFile.MaxPathBytes)
        {
            throw new ArgumentException(
                $"The named pipe '{name}' maps to the Unix socket path '{path}', which is {bytes} bytes long; the limit is {UnixSocketFile.MaxPathBytes} bytes (sun_path holds 108 bytes including the terminating NUL). Use a name of at most {UnixSocketFile.MaxPathBytes - (bytes - Encoding.UTF8.GetByteCount(name))} bytes, or a shorter TMPDIR.",
                nameof(endpoint));
        }

        return path;
    }

    public ValueTask<TransportListener> ListenAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        var path = GetPath(endpoint);
        cancellationToken.ThrowIfCancellationRequested();

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Reclaims a stale file (refused probe + our uid), refuses a live server's, and sets 0600 between bind and listen.
            var file = UnixSocketFile.BindAndListen(socket, path, options.ListenBacklog);
            var bound = "pipe://" + endpoint.Host;
            var userId = OperatingSystem.IsLinux() ? LibC.GetEffectiveUserId() : 0;
            return ValueTask.FromResult<TransportListener>(AcceptLoopListener.WithoutHandshake(
                socket, bound, file, peer => DescribePeer(bound, userId, peer) is { } description ? SocketConnector.StartConnection(peer, options, description) : null));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask<TransportConnection> ConnectAsync(RpcEndpoint endpoint, TransportOptions options, CancellationToken cancellationToken)
    {
        SocketOptionsValidation.Validate(options);
        var path = GetPath(endpoint);
        var display = "pipe://" + endpoint.Host;
        cancellationToken.ThrowIfCancellationRequested();

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var infinite = options.ConnectTimeout == Timeout.InfiniteTimeSpan || options.ConnectTimeout.TotalMilliseconds >= int.MaxValue;
        try
        {
            // A blocking connect keeps the socket off .NET's asynchronous path for life (see SocketConnection); SO_SNDTIMEO
            // bounds it when the server's backlog is full. A cancelled connect disposes the socket once it ends.
            await SocketConnector.ConnectBlockingAsync(socket, new UnixDomainSocketEndPoint(path), infinite ? Timeout.InfiniteTimeSpan : options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (SocketConnector.IsTimeout(ex))
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {display} timed out after {options.ConnectTimeout.TotalSeconds:0.###} s.", ex);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var why = ex.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable when !File.Exists(path) => $"no server is listening (no socket file at '{path}').",
                SocketError.ConnectionRefused => $"nothing is listening on '{path}' (connection refused).",
                SocketError.AccessDenied => $"permission denied on '{path}' (the pipe belongs to another user).",
                _ when !File.Exists(path) => $"no server is listening (no socket file at '{path}').",
                _ => ex.Message + ".",
            };
            throw new IOException($"Could not connect to {display}: {why}", ex);
        }

        // The temp directory is shared: another user could have created the pipe first. Talk only to a server running as
        // our own user, as NamedPipeClientStream with PipeOptions.CurrentUserOnly does.
        if (PeerCredentials.TryGet(socket) is { } server && server.UserId != LibC.GetEffectiveUserId())
        {
            socket.Dispose();
            throw new UnauthorizedAccessException($"The server of {display} (pid {server.ProcessId}) runs as uid {server.UserId}, not as this user (uid {LibC.GetEffectiveUserId()}); Rpc does not connect to another user's pipe.");
        }

        try
        {
            return SocketConnector.StartConnection(socket, options, display);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Names an accepted peer for error messages, or refuses it (<see langword="null"/>) unless it runs as our user: the
    /// same check .NET's <c>PipeOptions.CurrentUserOnly</c> makes.
    /// </summary>
    private static string? DescribePeer(string endpoint, uint userId, Socket peer)
    {
        if (PeerCredentials.TryGet(peer) is not { } credentials)
        {
            return endpoint + " (accepted)";
        }

        // Only root gets past the file's 0600 mode as another user; such a peer is still refused, as .NET does.
        return credentials.UserId == userId
            ? string.Create(CultureInfo.InvariantCulture, $"{endpoint} (peer pid {credentials.ProcessId}, uid {credentials.UserId})")
            : null;
    }
}
