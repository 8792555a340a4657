using System;

namespace Rpc;

/// <summary>
/// The call's deadline passed before its reply arrived: the caller stopped waiting and told the peer to stop
/// (<see cref="ErrorCode"/> is <see cref="RpcErrorCode.DeadlineExceeded"/>). Distinct from the caller's own
/// cancellation (<see cref="OperationCanceledException"/>) and from a lost connection (<see cref="ConnectionLostException"/>).
/// </summary>
public class RpcTimeoutException : TimeoutException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public RpcTimeoutException()
        : base("The call's deadline passed before it completed.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What happened.</param>
    public RpcTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and the exception that caused it.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause, if any.</param>
    public RpcTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Gets the error code: always <see cref="RpcErrorCode.DeadlineExceeded"/>.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Read like RemoteInvocationException.ErrorCode, on an instance.")]
    public RpcErrorCode ErrorCode => RpcErrorCode.DeadlineExceeded;
}
