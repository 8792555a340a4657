using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace Rpc.Benchmarks;

/// <summary>The two socket kinds every row runs on, named as Rpc endpoints (<c>unix:///path</c>, <c>tcp://127.0.0.1:port</c>).</summary>
internal static class BenchSockets
{
    /// <summary>The shared-memory floor's endpoint: <c>shm-floor:/dev/shm/file</c> (bench only, not an Rpc scheme).</summary>
    public const string ShmFloorScheme = "shm-floor:";

    /// <summary>The anonymous-pipe floor's endpoint: <c>anon-floor:&lt;read handle&gt;:&lt;write handle&gt;</c> (bench only).</summary>
    public const string AnonymousFloorScheme = "anon-floor:";

    public static bool IsUnix(string endpoint) => endpoint.StartsWith("unix://", StringComparison.Ordinal);

    public static bool IsTls(string endpoint) => endpoint.StartsWith("tls://", StringComparison.Ordinal);

    /// <summary>The TCP endpoint under a <c>tls://host:port</c> one (the raw TLS floors run their own TLS over it).</summary>
    public static string TcpUnder(string tlsEndpoint) => "tcp://" + tlsEndpoint["tls://".Length..];

    public static string UnixPath(string endpoint) => endpoint["unix://".Length..];

    public static EndPoint Parse(string endpoint)
    {
        if (IsUnix(endpoint))
        {
            return new UnixDomainSocketEndPoint(UnixPath(endpoint));
        }

        if (endpoint.StartsWith("tcp://", StringComparison.Ordinal))
        {
            return IPEndPoint.Parse(endpoint["tcp://".Length..]);
        }

        throw new ArgumentException($"Unknown endpoint '{endpoint}'.", nameof(endpoint));
    }

    public static string Format(EndPoint endPoint) => endPoint switch
    {
        UnixDomainSocketEndPoint unix => "unix://" + unix.ToString(),
        IPEndPoint ip => string.Create(CultureInfo.InvariantCulture, $"tcp://{ip.Address}:{ip.Port}"),
        _ => throw new ArgumentException("Unknown endpoint kind.", nameof(endPoint)),
    };

    /// <summary>Binds and listens; returns the socket and the endpoint as bound (the chosen TCP port).</summary>
    public static (Socket Socket, string Endpoint) Listen(string endpoint)
    {
        var endPoint = Parse(endpoint);
        Socket socket;
        if (endPoint is UnixDomainSocketEndPoint)
        {
            var path = UnixPath(endpoint);
            if (File.Exists(path))
            {
                File.Delete(path);
            }

            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        }

        socket.Bind(endPoint);
        socket.Listen(64);
        return (socket, IsUnix(endpoint) ? endpoint : Format(socket.LocalEndPoint!));
    }

    /// <summary>Connects a blocking socket (TCP with Nagle off, as every TCP row uses).</summary>
    public static Socket Connect(string endpoint)
    {
        var endPoint = Parse(endpoint);
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(endPoint);
        return socket;
    }

    public static void ReceiveExactly(Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var read = socket.Receive(buffer);
            if (read == 0)
            {
                throw new IOException("The peer closed the connection.");
            }

            buffer = buffer[read..];
        }
    }

    public static void SendAll(Socket socket, ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            buffer = buffer[socket.Send(buffer)..];
        }
    }
}

/// <summary>
/// The raw floor's wire format: <c>[u32 length][payload]</c>. A request of length 8 is the small call (two ints: 12 bytes
/// on the wire) and is answered with the 4-byte sum alone; any other request is echoed with its header.
/// </summary>
internal static class RawProtocol
{
    public const int SmallRequestSize = 12;
    public const int SmallReplySize = 4;

    public static void WriteSmallRequest(Span<byte> destination, int a, int b)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, 8);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], a);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], b);
    }
}
