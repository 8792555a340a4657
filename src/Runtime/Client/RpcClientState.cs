using System;

namespace Rpc;

/// <summary>Where an <see cref="RpcClient"/> is in its life.</summary>
public enum RpcClientState
{
    /// <summary>Not connected and not trying: not started yet, or it gave up after <see cref="RpcReconnectPolicy.MaxAttempts"/>.</summary>
    Disconnected,

    /// <summary>Making its first connection.</summary>
    Connecting,

    /// <summary>Connected: calls go straight to the connection.</summary>
    Connected,

    /// <summary>The connection was lost; making a new one, with backoff between failed attempts.</summary>
    Reconnecting,

    /// <summary>Disposed: calls fail with <see cref="ObjectDisposedException"/>.</summary>
    Disposed,
}

/// <summary>A change of <see cref="RpcClient.State"/>.</summary>
public sealed class RpcClientStateChangedEventArgs : EventArgs
{
    internal RpcClientStateChangedEventArgs(RpcClientState previousState, RpcClientState state, Exception? reason)
    {
        PreviousState = previousState;
        State = state;
        Reason = reason;
    }

    /// <summary>Gets the state before the change.</summary>
    public RpcClientState PreviousState { get; }

    /// <summary>Gets the new state.</summary>
    public RpcClientState State { get; }

    /// <summary>
    /// Gets why the client left <see cref="RpcClientState.Connected"/> (the connection's <see cref="RpcConnection.CloseReason"/>)
    /// or gave up (the last attempt's error), or <see langword="null"/>.
    /// </summary>
    public Exception? Reason { get; }
}
