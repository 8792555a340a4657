using System;

namespace Rpc;

/// <summary>The base of every exception Rpc throws for a failed call or connection.</summary>
public class RpcException : Exception
{
    /// <summary>Initializes a new instance with no message.</summary>
    public RpcException()
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public RpcException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public RpcException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
