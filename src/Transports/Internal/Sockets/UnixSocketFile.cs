using System;
using System.IO;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>
/// The file-system side of a listening Unix domain socket: path checks, reclaiming a stale file, owner-only mode, and
/// removing the file on shutdown only while it is still the one this listener created.
/// </summary>
internal sealed class UnixSocketFile
{
    /// <summary><c>sun_path</c> holds 108 bytes including the terminating NUL.</summary>
    internal const int MaxPathBytes = 107;

    // A live server whose backlog is full makes a blocking connect wait; this bounds the liveness probe.
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly (ulong Inode, uint Major, uint Minor)? _identity;

    private UnixSocketFile(string path, (ulong, uint, uint)? identity)
    {
        Path = path;
        _identity = identity;
    }

    public string Path { get; }

    /// <summary>Checks a <c>unix://</c> endpoint and returns its absolute socket path.</summary>
    /// <exception cref="FormatException">The endpoint has no absolute path.</exception>
    /// <exception cref="ArgumentException">The path is longer than <see cref="MaxPathBytes"/> bytes.</exception>
    public static string GetPath(RpcEndpoint endpoint)
    {
        if (endpoint.Host.Length != 0 || endpoint.Port >= 0 || !endpoint.Path.StartsWith('/'))
        {
            throw new FormatException($"'{endpoint.Original}' is not a Unix socket endpoint: expected unix:///absolute/path.sock (three slashes).");
        }

        var path = endpoint.Path;
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new FormatException($"'{endpoint.Original}' contains a NUL character.");
        }

        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
        {
            throw new ArgumentException(
                $"The Unix socket path '{path}' is {bytes} bytes long; the limit is {MaxPathBytes} bytes (sun_path holds 108 bytes including the terminating NUL). Use a shorter path, for example under /tmp or $XDG_RUNTIME_DIR.",
                nameof(endpoint));
        }

        return path;
    }

    /// <summary>
    /// Binds <paramref name="socket"/> to <paramref name="path"/> with mode 0600 and starts listening, reclaiming a stale
    /// socket file left by a server that died, never touching a live server's socket or a file that is not a socket.
    /// </summary>
    public static UnixSocketFile BindAndListen(Socket socket, string path, int backlog)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("unix:// endpoints are supported on Linux and macOS.");
        }

        EnsureParentDirectory(path);
        ReclaimIfStale(path);

        // .NET's Socket.Dispose unlinks the file of a socket bound through UnixDomainSocketEndPoint, whoever owns the path
        // by then; this listener removes its file itself, after checking it is still the inode it bound.
        socket.Bind(new UnixEndPointWithoutCleanup(path));

        // bind() creates the file with 0777 & ~umask. Until listen() nobody can connect (connect() gets ECONNREFUSED),
        // so tightening the mode here, between bind and listen, leaves no window whatever the umask.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var identity = TryGetIdentity(path);
        socket.Listen(backlog);
        return new UnixSocketFile(path, identity);
    }

    /// <summary>Removes the socket file if it is still the one this listener bound (a successor may have replaced it).</summary>
    public void RemoveIfOwned()
    {
        if (_identity is null || TryGetIdentity(Path) != _identity)
        {
            return;
        }

        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void EnsureParentDirectory(string path)
    {
        var directory = System.IO.Path.GetDirectoryName(path);
        if (string.IsNullOrEmpty(directory) || Directory.Exists(directory))
        {
            // An existing directory is the deployer's choice; its mode is left alone.
            return;
        }

        if (!OperatingSystem.IsWindows())
        {
            // Created owner-only: nobody else needs to list or enter a directory that holds our socket.
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void ReclaimIfStale(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Without statx we cannot tell a socket from a regular file or check its owner: never delete, let bind fail.
            return;
        }

        if (LibC.Statx(LibC.AtFdCwd, path, LibC.AtSymlinkNoFollow, LibC.StatxWanted, out var status) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.ENOENT)
            {
                return;
            }

            throw new IOException($"Cannot inspect '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.");
        }

        if (!LibC.IsSocket(status))
        {
            throw new IOException($"'{path}' exists and is not a socket; Rpc will not replace it. Remove it or choose another path.");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // SO_SNDTIMEO bounds a blocking connect on Linux: a live server with a full backlog answers EAGAIN.
            probe.SendTimeout = (int)ProbeTimeout.TotalMilliseconds;
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"Another server is listening on '{path}'; Rpc will not take over a live socket.");
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.TimedOut)
            {
                throw new IOException($"Another server is listening on '{path}' (its accept backlog is full); Rpc will not take over a live socket.", ex);
            }
            catch (SocketException ex) when (ex.SocketErrorCode != SocketError.ConnectionRefused)
            {
                throw new IOException($"Cannot tell whether a server is listening on '{path}': {ex.Message}.", ex);
            }
            catch (SocketException)
            {
                // ECONNREFUSED: a socket file with nobody listening, left by a server that died without unlinking it.
            }
        }

        var owner = LibC.GetEffectiveUserId();
        if (status.Uid != owner)
        {
            throw new IOException($"'{path}' is a stale socket owned by uid {status.Uid}, not by this process (uid {owner}); Rpc will not remove it.");
        }

        // Unlink only the very file we probed: if it was replaced meanwhile, leave the newcomer alone and let bind fail.
        if (TryGetIdentity(path) == (status.Inode, status.DeviceMajor, status.DeviceMinor))
        {
            File.Delete(path);
        }
    }

    private static (ulong Inode, uint Major, uint Minor)? TryGetIdentity(string path)
    {
        if (!OperatingSystem.IsLinux()
            || LibC.Statx(LibC.AtFdCwd, path, LibC.AtSymlinkNoFollow, LibC.StatxWanted, out var status) != 0
            || !LibC.IsSocket(status))
        {
            return null;
        }

        return (status.Inode, status.DeviceMajor, status.DeviceMinor);
    }
}
