using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Sockets;

/// <summary>The process and user at the other end of a connected Unix socket, as the kernel recorded them (SO_PEERCRED).</summary>
internal readonly record struct PeerCredentials(int ProcessId, uint UserId)
{
    /// <summary>Reads the peer's credentials; <see langword="null"/> where the platform has no SO_PEERCRED.</summary>
    public static PeerCredentials? TryGet(Socket socket)
    {
        if (!System.OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        const int SolSocket = 1;
        const int SoPeerCred = 17;
        System.Span<byte> credentials = stackalloc byte[12];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) == credentials.Length)
            {
                return new PeerCredentials(MemoryMarshal.Read<int>(credentials), MemoryMarshal.Read<uint>(credentials[4..]));
            }
        }
        catch (SocketException)
        {
        }

        return null;
    }
}
