using System;

namespace Rpc;

/// <summary>One member's outcome of <see cref="RpcGroup{TContract}.InvokeAsync{TResult}"/>: its result or its error.</summary>
/// <typeparam name="TResult">The method's result type.</typeparam>
public readonly struct RpcMemberResult<TResult>
{
    internal RpcMemberResult(RpcConnection connection, TResult? value, Exception? exception)
    {
        Connection = connection;
        Value = value;
        Exception = exception;
    }

    /// <summary>Gets the member's connection.</summary>
    public RpcConnection Connection { get; }

    /// <summary>Gets the member's result, or the default value when the call failed.</summary>
    public TResult? Value { get; }

    /// <summary>
    /// Gets why the member's call failed (for example <see cref="RemoteInvocationException"/> from its implementation,
    /// or <see cref="ConnectionLostException"/> for a member that died), or <see langword="null"/> on success.
    /// </summary>
    public Exception? Exception { get; }

    /// <summary>Gets whether the member's call succeeded.</summary>
    public bool IsSuccess => Exception is null;

    /// <inheritdoc />
    public override string ToString() => IsSuccess ? $"{Connection.RemoteEndpoint}: {Value}" : $"{Connection.RemoteEndpoint}: {Exception!.GetType().Name}: {Exception.Message}";
}

/// <summary>One member's outcome of <see cref="RpcGroup{TContract}.InvokeAsync(Func{TContract, System.Threading.Tasks.Task}, Func{RpcConnection, bool}?)"/>.</summary>
public readonly struct RpcMemberResult
{
    internal RpcMemberResult(RpcConnection connection, Exception? exception)
    {
        Connection = connection;
        Exception = exception;
    }

    /// <summary>Gets the member's connection.</summary>
    public RpcConnection Connection { get; }

    /// <summary>Gets why the member's call failed, or <see langword="null"/> on success.</summary>
    public Exception? Exception { get; }

    /// <summary>Gets whether the member's call succeeded.</summary>
    public bool IsSuccess => Exception is null;

    /// <inheritdoc />
    public override string ToString() => IsSuccess ? $"{Connection.RemoteEndpoint}: ok" : $"{Connection.RemoteEndpoint}: {Exception!.GetType().Name}: {Exception.Message}";
}

/// <summary>A snapshot of one member's queue and counters.</summary>
/// <param name="QueueDepth">Messages waiting in the member's queue now.</param>
/// <param name="MessagesSent">Messages written to the member's connection since it joined.</param>
/// <param name="MessagesDropped">Messages the member lost to the full-queue policy since it joined.</param>
public readonly record struct RpcGroupMemberStatistics(int QueueDepth, long MessagesSent, long MessagesDropped);
