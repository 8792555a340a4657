namespace Rpc;

/// <summary>
/// Why a call failed. The numeric values are the JSON-RPC 2.0 error codes, so both protocols report the same number.
/// </summary>
public enum RpcErrorCode
{
    /// <summary>The server method threw; <see cref="RemoteInvocationException.RemoteTypeName"/> says what.</summary>
    InvocationFailed = -32000,

    /// <summary>The peer does not serve a method with that wire name.</summary>
    MethodNotFound = -32601,

    /// <summary>The arguments could not be read as the method's parameters.</summary>
    InvalidArguments = -32602,

    /// <summary>The request was not a valid message.</summary>
    InvalidRequest = -32600,

    /// <summary>The message could not be parsed at all.</summary>
    ParseError = -32700,

    /// <summary>The server observed the caller's cancellation and stopped the call.</summary>
    Cancelled = -32800,

    /// <summary>The server is shutting down and no longer accepts calls.</summary>
    ServerShuttingDown = -32001,

    /// <summary>The result could not be serialized by the server.</summary>
    ResultNotSerializable = -32002,

    /// <summary>
    /// The call's deadline passed before it completed: the caller stopped waiting (<see cref="RpcTimeoutException"/>),
    /// or the server method stopped because its token fired at the deadline.
    /// </summary>
    DeadlineExceeded = -32003,
}
