using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Runtime;
using Rpc.Serialization;

namespace Rpc.Connections;

/// <summary>
/// One protocol spoken over one transport connection: the invoker proxies call into, and the host of the stubs the
/// peer calls. <see cref="RpcConnection"/> and <see cref="RpcServer"/> see only this, never the protocol's frames.
/// </summary>
internal abstract class ProtocolConnection : IRpcInvoker, IAsyncDisposable
{
    /// <summary>Gets a task that completes (never faults) once the connection is closed and every pending call failed.</summary>
    public abstract Task Completion { get; }

    /// <summary>Gets why the connection closed abnormally, or <see langword="null"/> while open or after a clean close.</summary>
    public abstract Exception? CloseReason { get; }

    /// <summary>Gets whether the connection is closed or closing.</summary>
    public abstract bool IsClosed { get; }

    /// <summary>Gets how many incoming calls are running.</summary>
    public abstract int IncomingCallsInFlight { get; }

    /// <summary>Serves a stub's methods to the peer.</summary>
    public abstract void AddStub(RpcStub stub);

    /// <summary>Starts reading from the transport.</summary>
    public abstract void Start();

    /// <summary>From now on, answers new incoming calls with <see cref="RpcErrorCode.ServerShuttingDown"/>.</summary>
    public abstract void RejectNewCalls();

    /// <summary>Completes when no incoming call is running.</summary>
    public abstract Task WhenIncomingCallsDrainedAsync(CancellationToken cancellationToken);

    /// <summary>Fires the cancellation token of every running incoming call.</summary>
    public abstract void CancelIncomingCalls();

    /// <summary>Closes at once; pending outgoing calls fail with <see cref="ConnectionLostException"/>.</summary>
    public abstract void Abort(Exception? reason);

    public abstract ValueTask DisposeAsync();

    public abstract Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>;

    public abstract IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;
}
