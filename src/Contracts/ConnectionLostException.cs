using System;

namespace Rpc;

/// <summary>
/// The connection closed before the call completed, or the call was made on a connection that was already closed.
/// Every call pending on a connection fails with this exception as soon as the loss is seen.
/// </summary>
public class ConnectionLostException : RpcException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public ConnectionLostException()
        : base("The connection to the peer was lost.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What happened.</param>
    public ConnectionLostException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and the transport error that closed the connection.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The transport error, if any.</param>
    public ConnectionLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
