using System;

namespace Rpc;

/// <summary>
/// Nothing arrived from the peer within the keepalive timeout after a ping (see
/// <c>RpcConnectionOptions.KeepAliveInterval</c> and <c>KeepAliveTimeout</c>): the peer's process is stopped, its machine
/// is gone, or the network between is. The connection's <c>CloseReason</c>; its pending calls fail with a
/// <see cref="ConnectionLostException"/> whose inner exception is this one.
/// </summary>
public class KeepAliveTimeoutException : RpcException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public KeepAliveTimeoutException()
        : base("The peer did not answer a keepalive ping in time.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What happened.</param>
    public KeepAliveTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public KeepAliveTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
