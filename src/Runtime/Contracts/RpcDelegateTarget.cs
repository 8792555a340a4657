using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Threading.Tasks;

namespace Rpc.Runtime;

/// <summary>
/// What the typed delegates of a contract (<see cref="RpcContract{TContract}.AddDelegates"/>) call the implementation
/// through: one shared object, or one made for each call (<see cref="IRpcServiceActivator{TContract}"/>) and released
/// when the call is over.
/// </summary>
/// <typeparam name="TContract">The contract interface.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class RpcDelegateTarget<TContract>
    where TContract : class
{
    /// <summary>Gets a target that calls <paramref name="implementation"/> for every call.</summary>
    /// <param name="implementation">The object serving the contract.</param>
    /// <returns>The target.</returns>
    public static RpcDelegateTarget<TContract> For(TContract implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return new Shared(implementation);
    }

    /// <summary>Calls a method that returns a <see cref="Task"/>.</summary>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    /// <returns>The method's task.</returns>
    public abstract Task Invoke(Func<TContract, Task> method);

    /// <summary>Calls a method that returns a <see cref="Task{TResult}"/>.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    /// <returns>The method's task.</returns>
    public abstract Task<TResult> Invoke<TResult>(Func<TContract, Task<TResult>> method);

    /// <summary>Calls a method that returns a <see cref="ValueTask"/>.</summary>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    /// <returns>The method's task.</returns>
    public abstract ValueTask Invoke(Func<TContract, ValueTask> method);

    /// <summary>Calls a method that returns a <see cref="ValueTask{TResult}"/>.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    /// <returns>The method's task.</returns>
    public abstract ValueTask<TResult> Invoke<TResult>(Func<TContract, ValueTask<TResult>> method);

    /// <summary>Calls a method that returns a stream.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    /// <returns>The method's stream.</returns>
    public abstract IAsyncEnumerable<TItem> InvokeStream<TItem>(Func<TContract, IAsyncEnumerable<TItem>> method);

    /// <summary>Calls a one-way notification (a <c>void</c> method).</summary>
    /// <param name="method">Calls the method on the implementation it is given.</param>
    public abstract void InvokeNotification(Action<TContract> method);

    private sealed class Shared(TContract implementation) : RpcDelegateTarget<TContract>
    {
        public override Task Invoke(Func<TContract, Task> method) => method(implementation);

        public override Task<TResult> Invoke<TResult>(Func<TContract, Task<TResult>> method) => method(implementation);

        public override ValueTask Invoke(Func<TContract, ValueTask> method) => method(implementation);

        public override ValueTask<TResult> Invoke<TResult>(Func<TContract, ValueTask<TResult>> method) => method(implementation);

        public override IAsyncEnumerable<TItem> InvokeStream<TItem>(Func<TContract, IAsyncEnumerable<TItem>> method) => method(implementation);

        public override void InvokeNotification(Action<TContract> method) => method(implementation);
    }
}
