using System.Collections.Generic;
using System.ComponentModel;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Serialization;

namespace Rpc.Runtime;

/// <summary>
/// What a generated proxy calls: each proxy method is exactly one call to one of these members.
/// Implemented by each protocol of an <see cref="RpcConnection"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRpcInvoker
{
    /// <summary>Sends a request and returns its result as a <see cref="Task{TResult}"/>.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="resultFormatter">Reads the result.</param>
    /// <param name="cancellationToken">Cancels the call here and on the peer.</param>
    /// <returns>The result.</returns>
    Task<TResult> InvokeAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    /// <summary>Sends a request whose reply carries no value.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="cancellationToken">Cancels the call here and on the peer.</param>
    /// <returns>A task that completes when the peer has finished.</returns>
    Task InvokeAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    /// <summary>Sends a request and returns its result as a <see cref="ValueTask{TResult}"/>, allocation-free in steady state.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="resultFormatter">Reads the result.</param>
    /// <param name="cancellationToken">Cancels the call here and on the peer.</param>
    /// <returns>The result.</returns>
    ValueTask<TResult> InvokeValueTaskAsync<TArguments, TResult>(RpcMethod method, in TArguments arguments, RpcFormatter<TResult> resultFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    /// <summary>Sends a request whose reply carries no value, as a <see cref="ValueTask"/>.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="cancellationToken">Cancels the call here and on the peer.</param>
    /// <returns>A task that completes when the peer has finished.</returns>
    ValueTask InvokeValueTaskAsync<TArguments>(RpcMethod method, in TArguments arguments, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;

    /// <summary>Sends a one-way notification. Never throws for a lost connection: a notification promises no delivery.</summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    void Notify<TArguments>(RpcMethod method, in TArguments arguments)
        where TArguments : struct, IRpcArguments<TArguments>;

    /// <summary>
    /// Returns a stream whose enumeration sends the request and yields the peer's items, with back-pressure: the peer
    /// sends only as many items as the caller has room for.
    /// </summary>
    /// <typeparam name="TArguments">The generated arguments struct.</typeparam>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="method">The method-table row.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="itemFormatter">Reads each item.</param>
    /// <param name="cancellationToken">Cancels the stream here and on the peer (combined with the enumerator's token).</param>
    /// <returns>The stream.</returns>
    IAsyncEnumerable<TItem> InvokeStreamAsync<TArguments, TItem>(RpcMethod method, in TArguments arguments, RpcFormatter<TItem> itemFormatter, CancellationToken cancellationToken)
        where TArguments : struct, IRpcArguments<TArguments>;
}
