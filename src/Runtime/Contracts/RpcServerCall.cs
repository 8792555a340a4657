using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Serialization;

namespace Rpc.Runtime;

/// <summary>
/// One incoming call, handed by the runtime to a generated stub: it reads the arguments, supplies the call's
/// cancellation token and completes the call with the implementation's task.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct RpcServerCall
{
    private readonly ServerCallTarget _target;
    private readonly uint _requestId;
    private readonly byte _kind;

    internal RpcServerCall(ServerCallTarget target, uint requestId, byte kind)
    {
        _target = target;
        _requestId = requestId;
        _kind = kind;
    }

    /// <summary>Gets what completes the call.</summary>
    internal ServerCallTarget Target => _target;

    /// <summary>
    /// Gets a token that fires when the caller cancels, or when the server's shutdown deadline passes.
    /// Created on first use, so methods without a <see cref="System.Threading.CancellationToken"/> parameter pay nothing.
    /// </summary>
    public CancellationToken CancellationToken => _target.GetCancellationToken(_requestId, _kind);

    /// <summary>Gets this call, completed through <paramref name="target"/> instead (a decorator of <see cref="Target"/>).</summary>
    internal RpcServerCall WithTarget(ServerCallTarget target) => new(target, _requestId, _kind);

    /// <summary>Reads the arguments; a malformed payload is answered with <see cref="RpcErrorCode.InvalidArguments"/>.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <param name="reader">The arguments payload.</param>
    /// <returns>The arguments.</returns>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Generated stubs reach every per-call operation through the call.")]
    public TArguments ReadArguments<TArguments>(ref MessagePackReader reader)
        where TArguments : struct, IRpcArguments<TArguments>
    {
        try
        {
            return TArguments.Read(ref reader);
        }
        catch (Exception exception)
        {
            throw new InvalidArgumentsException(exception);
        }
    }

    /// <summary>Completes the call with the implementation's task.</summary>
    /// <param name="task">The task returned by the implementation.</param>
    public void Complete(Task task) => _target.Complete(_requestId, _kind, task);

    /// <summary>Completes the call with the implementation's task and writes its result.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="task">The task returned by the implementation.</param>
    /// <param name="resultFormatter">Writes the result.</param>
    public void Complete<TResult>(Task<TResult> task, RpcFormatter<TResult> resultFormatter) =>
        _target.Complete(_requestId, _kind, task, resultFormatter);

    /// <summary>Completes the call with the implementation's task.</summary>
    /// <param name="task">The task returned by the implementation.</param>
    public void Complete(ValueTask task) => _target.Complete(_requestId, _kind, task);

    /// <summary>Completes the call with the implementation's task and writes its result.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="task">The task returned by the implementation.</param>
    /// <param name="resultFormatter">Writes the result.</param>
    public void Complete<TResult>(ValueTask<TResult> task, RpcFormatter<TResult> resultFormatter) =>
        _target.Complete(_requestId, _kind, task, resultFormatter);

    /// <summary>Completes a one-way notification (a <c>void</c> method) that has returned.</summary>
    public void CompleteNotification() => _target.Complete(_requestId, _kind, Task.CompletedTask);

    /// <summary>Streams the implementation's items to the caller, as fast as the caller's window allows.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="items">The stream returned by the implementation.</param>
    /// <param name="itemFormatter">Writes each item.</param>
    public void CompleteStream<TItem>(IAsyncEnumerable<TItem> items, RpcFormatter<TItem> itemFormatter) =>
        _target.CompleteStream(_requestId, _kind, items, itemFormatter);

    /// <summary>Answers that this stub has no method with the requested id.</summary>
    public void MethodNotFound() => _target.MethodNotFound(_requestId, _kind);
}
