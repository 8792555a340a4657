using System;

namespace Rpc;

/// <summary>
/// The peer answered the call with an error: its method threw, the method is unknown, or the arguments were invalid.
/// The connection stays usable.
/// </summary>
public class RemoteInvocationException : RpcException
{
    /// <summary>Initializes a new instance with no details.</summary>
    public RemoteInvocationException()
        : this(RpcErrorCode.InvocationFailed, string.Empty, "The remote call failed.", null)
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public RemoteInvocationException(string message)
        : this(RpcErrorCode.InvocationFailed, string.Empty, message, null)
    {
    }

    /// <summary>Initializes a new instance with a message and a local cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public RemoteInvocationException(string message, Exception? innerException)
        : base(message, innerException)
    {
        RemoteTypeName = string.Empty;
    }

    /// <summary>Initializes a new instance with what the peer reported.</summary>
    /// <param name="errorCode">Why the call failed.</param>
    /// <param name="remoteTypeName">The full name of the exception type thrown on the peer, or empty.</param>
    /// <param name="message">The peer's message.</param>
    /// <param name="remoteStackTrace">The peer's stack trace when the server opted in to sending it, else <see langword="null"/>.</param>
    public RemoteInvocationException(RpcErrorCode errorCode, string remoteTypeName, string message, string? remoteStackTrace)
        : base(message)
    {
        ErrorCode = errorCode;
        RemoteTypeName = remoteTypeName;
        RemoteStackTrace = remoteStackTrace;
    }

    /// <summary>Gets why the call failed.</summary>
    public RpcErrorCode ErrorCode { get; }

    /// <summary>Gets the full name of the exception type thrown on the peer (for example <c>System.ArgumentException</c>), or empty.</summary>
    public string RemoteTypeName { get; }

    /// <summary>Gets the peer's stack trace, present only when the server sets <c>IncludeExceptionStackTraces</c>.</summary>
    public string? RemoteStackTrace { get; }

    /// <inheritdoc />
    public override string ToString() =>
        RemoteStackTrace is null
            ? $"{base.ToString()}{Environment.NewLine}   --- remote {RemoteTypeName} ({(int)ErrorCode}) ---"
            : $"{base.ToString()}{Environment.NewLine}   --- remote {RemoteTypeName} ({(int)ErrorCode}) ---{Environment.NewLine}{RemoteStackTrace}";
}
