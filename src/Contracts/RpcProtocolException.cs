using System;

namespace Rpc;

/// <summary>
/// The peer broke the protocol: a frame over the size limit, a malformed header, a response to a request never sent.
/// The connection that saw it is closed, because nothing after a broken frame can be trusted.
/// </summary>
public class RpcProtocolException : RpcException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public RpcProtocolException()
        : base("The peer violated the protocol.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What the peer did wrong.</param>
    public RpcProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and a cause.</summary>
    /// <param name="message">What the peer did wrong.</param>
    /// <param name="innerException">The cause.</param>
    public RpcProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
