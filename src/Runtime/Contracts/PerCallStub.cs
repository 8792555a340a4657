using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Serialization;

namespace Rpc.Runtime;

/// <summary>
/// The stub of a contract served per call (<see cref="IRpcServiceActivator{TContract}"/>): each dispatch activates an
/// implementation, serves the call with the generated stub made for it, and releases it when the call is over. Only
/// this path pays for activation; a stub bound to one implementation is the generated one, untouched.
/// </summary>
/// <typeparam name="TContract">The contract interface.</typeparam>
internal sealed class PerCallStub<TContract> : RpcStub
    where TContract : class
{
    private readonly RpcContract<TContract> _contract;
    private readonly IRpcServiceActivator<TContract> _activator;
    private readonly RpcConnection _connection;

    public PerCallStub(RpcContract<TContract> contract, IRpcServiceActivator<TContract> activator, RpcConnection connection)
        : base(contract.Methods)
    {
        _contract = contract;
        _activator = activator;
        _connection = connection;
    }

    public override void Dispatch(uint methodId, ref MessagePackReader arguments, RpcServerCall call)
    {
        var activation = ServiceActivation<TContract>.Start(_activator, _connection);
        var target = new ReleasingCallTarget(call.Target, activation);
        try
        {
            _contract.CreateStub(activation.Instance).Dispatch(methodId, ref arguments, call.WithTarget(target));
        }
        catch
        {
            // Unreadable arguments, or a method that threw before returning: the protocol answers with the exception.
            if (!target.HandedOver)
            {
                activation.ReleaseInBackground();
            }

            throw;
        }
    }

    public override void AddDelegates(IRpcDelegateRegistry registry) =>
        _contract.AddDelegates(registry, new PerCallDelegateTarget(_activator, _connection));

    /// <summary>Completes a call through the protocol's target once its implementation is released.</summary>
    private sealed class ReleasingCallTarget(ServerCallTarget inner, ServiceActivation activation) : ServerCallTarget
    {
        /// <summary>Gets whether a completion took over the release, so the dispatch must not release on a later throw.</summary>
        public bool HandedOver { get; private set; }

        public override CancellationToken GetCancellationToken(uint requestId, byte kind) => inner.GetCancellationToken(requestId, kind);

        public override void Complete(uint requestId, byte kind, Task task)
        {
            HandedOver = true;
            inner.Complete(requestId, kind, activation.ReleaseAfter(task));
        }

        public override void Complete(uint requestId, byte kind, ValueTask task)
        {
            HandedOver = true;
            inner.Complete(requestId, kind, activation.ReleaseAfter(task));
        }

        public override void Complete<TResult>(uint requestId, byte kind, Task<TResult> task, RpcFormatter<TResult> resultFormatter)
        {
            HandedOver = true;
            inner.Complete(requestId, kind, activation.ReleaseAfter(task), resultFormatter);
        }

        public override void Complete<TResult>(uint requestId, byte kind, ValueTask<TResult> task, RpcFormatter<TResult> resultFormatter)
        {
            HandedOver = true;
            inner.Complete(requestId, kind, activation.ReleaseAfter(task), resultFormatter);
        }

        public override void CompleteStream<TItem>(uint requestId, byte kind, IAsyncEnumerable<TItem> items, RpcFormatter<TItem> itemFormatter)
        {
            HandedOver = true;
            inner.CompleteStream(requestId, kind, activation.ReleaseAfter(items), itemFormatter);
        }

        public override void MethodNotFound(uint requestId, byte kind)
        {
            HandedOver = true;
            activation.ReleaseInBackground();
            inner.MethodNotFound(requestId, kind);
        }
    }

    /// <summary>The JSON-RPC side: each invocation of a typed delegate activates an implementation and releases it when it is over.</summary>
    private sealed class PerCallDelegateTarget : RpcDelegateTarget<TContract>
    {
        private readonly IRpcServiceActivator<TContract> _activator;
        private readonly RpcConnection _connection;

        // Streams not released yet. StreamJsonRpc forgets a stream whose caller neither finishes nor aborts it when the
        // connection closes, so their implementations are released then.
        private readonly HashSet<ServiceActivation> _openStreams = [];

        public PerCallDelegateTarget(IRpcServiceActivator<TContract> activator, RpcConnection connection)
        {
            _activator = activator;
            _connection = connection;
            _ = connection.Completion.ContinueWith(
                static (_, state) => ((PerCallDelegateTarget)state!).ReleaseOpenStreams(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        public override Task Invoke(Func<TContract, Task> method)
        {
            var activation = Activate();
            return activation.ReleaseAfter(Call(activation, method));
        }

        public override Task<TResult> Invoke<TResult>(Func<TContract, Task<TResult>> method)
        {
            var activation = Activate();
            return activation.ReleaseAfter(Call(activation, method));
        }

        public override ValueTask Invoke(Func<TContract, ValueTask> method)
        {
            var activation = Activate();
            return activation.ReleaseAfter(Call(activation, method));
        }

        public override ValueTask<TResult> Invoke<TResult>(Func<TContract, ValueTask<TResult>> method)
        {
            var activation = Activate();
            return activation.ReleaseAfter(Call(activation, method));
        }

        public override IAsyncEnumerable<TItem> InvokeStream<TItem>(Func<TContract, IAsyncEnumerable<TItem>> method)
        {
            var activation = Activate();
            var items = activation.ReleaseAfter(Call(activation, method));
            activation.Released = ForgetStream;
            lock (_openStreams)
            {
                _openStreams.Add(activation);
            }

            if (_connection.Completion.IsCompleted)
            {
                activation.ReleaseInBackground();
            }

            return items;
        }

        public override void InvokeNotification(Action<TContract> method)
        {
            var activation = Activate();
            try
            {
                method(activation.Instance);
            }
            finally
            {
                activation.ReleaseInBackground();
            }
        }

        private static TResult Call<TResult>(ServiceActivation<TContract> activation, Func<TContract, TResult> method)
        {
            try
            {
                return method(activation.Instance);
            }
            catch
            {
                activation.ReleaseInBackground();
                throw;
            }
        }

        private ServiceActivation<TContract> Activate() => ServiceActivation<TContract>.Start(_activator, _connection);

        private void ForgetStream(ServiceActivation activation)
        {
            lock (_openStreams)
            {
                _openStreams.Remove(activation);
            }
        }

        private void ReleaseOpenStreams()
        {
            List<ServiceActivation> streams;
            lock (_openStreams)
            {
                streams = [.. _openStreams];
            }

            foreach (var stream in streams)
            {
                stream.ReleaseInBackground();
            }
        }
    }
}

/// <summary>One implementation made for one call, released exactly once when what the call returned is over.</summary>
internal abstract class ServiceActivation
{
    private int _released;

    /// <summary>Sets what to tell once the release starts.</summary>
    public Action<ServiceActivation>? Released { private get; set; }

    /// <summary>Releases the implementation, unless it has been already.</summary>
    public ValueTask ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return default;
        }

        Released?.Invoke(this);
        return ReleaseImplementationAsync();
    }

    /// <summary>
    /// Releases without making anyone wait, for a call whose outcome is already decided: the method threw before
    /// returning, the call was a notification, or the connection closed under it. A failing release is not reported then.
    /// </summary>
    public void ReleaseInBackground()
    {
        ValueTask releasing;
        try
        {
            releasing = ReleaseAsync();
        }
        catch (Exception)
        {
            return;
        }

        if (releasing.IsCompletedSuccessfully)
        {
            return;
        }

        _ = releasing.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public async Task ReleaseAfter(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    public async Task<TResult> ReleaseAfter<TResult>(Task<TResult> task)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask ReleaseAfter(ValueTask task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask<TResult> ReleaseAfter<TResult>(ValueTask<TResult> task)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Gets a stream that releases the implementation when its enumeration is disposed (ended, failed or abandoned).</summary>
    public IAsyncEnumerable<TItem> ReleaseAfter<TItem>(IAsyncEnumerable<TItem> items) => new ReleasingStream<TItem>(items, this);

    protected abstract ValueTask ReleaseImplementationAsync();

    private sealed class ReleasingStream<TItem>(IAsyncEnumerable<TItem> items, ServiceActivation activation) : IAsyncEnumerable<TItem>
    {
        public IAsyncEnumerator<TItem> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            try
            {
                return new Enumerator(items.GetAsyncEnumerator(cancellationToken), activation);
            }
            catch
            {
                activation.ReleaseInBackground();
                throw;
            }
        }

        private sealed class Enumerator(IAsyncEnumerator<TItem> inner, ServiceActivation activation) : IAsyncEnumerator<TItem>
        {
            public TItem Current => inner.Current;

            public ValueTask<bool> MoveNextAsync() => inner.MoveNextAsync();

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await inner.DisposeAsync().ConfigureAwait(false);
                }
                finally
                {
                    await activation.ReleaseAsync().ConfigureAwait(false);
                }
            }
        }
    }
}

/// <summary>An implementation of <typeparamref name="TContract"/> made for one call.</summary>
/// <typeparam name="TContract">The contract interface.</typeparam>
internal sealed class ServiceActivation<TContract> : ServiceActivation
    where TContract : class
{
    private readonly IRpcServiceActivator<TContract> _activator;
    private readonly RpcActivatorHandle<TContract> _handle;

    private ServiceActivation(IRpcServiceActivator<TContract> activator, RpcActivatorHandle<TContract> handle)
    {
        _activator = activator;
        _handle = handle;
    }

    public TContract Instance => _handle.Instance;

    public static ServiceActivation<TContract> Start(IRpcServiceActivator<TContract> activator, RpcConnection connection)
    {
        var activation = new ServiceActivation<TContract>(activator, activator.Create(connection));
        if (activation.Instance is null)
        {
            activation.ReleaseInBackground();
            throw new InvalidOperationException($"The service activator '{activator.GetType().FullName}' made no implementation of '{typeof(TContract).FullName}'.");
        }

        return activation;
    }

    protected override ValueTask ReleaseImplementationAsync() => _activator.ReleaseAsync(_handle);
}
