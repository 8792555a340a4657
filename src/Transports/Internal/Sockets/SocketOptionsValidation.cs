using System;
using System.Threading;
using Rpc.Transports.Internal.Connections;

namespace Rpc.Transports.Internal.Sockets;

internal static class SocketOptionsValidation
{
    public static void Validate(TransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxBufferedInputBytes < DuplexPipeConnection.MinimumSegmentSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxBufferedInputBytes, $"TransportOptions.MaxBufferedInputBytes must be at least {DuplexPipeConnection.MinimumSegmentSize}.");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero && options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ConnectTimeout, "TransportOptions.ConnectTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (options.HandshakeTimeout <= TimeSpan.Zero || options.HandshakeTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.HandshakeTimeout, "TransportOptions.HandshakeTimeout must be positive and finite: a handshake without a deadline lets a silent client hold a connection forever.");
        }

        if (options.ListenBacklog < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ListenBacklog, "TransportOptions.ListenBacklog must be at least 1.");
        }
    }
}
