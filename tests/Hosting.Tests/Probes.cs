using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Hosting.Tests;

/// <summary>What the hosting tests serve: each answer tells which implementation object served the call.</summary>
[RpcContract]
public interface IProbe
{
    Task<int> GetInstanceAsync();

    Task<string> GetConnectionAsync();

    Task<int> SlowAsync(int milliseconds, CancellationToken cancellationToken = default);
}

/// <summary>Numbers the implementation objects and records which were disposed.</summary>
public sealed class InstanceTracker
{
    private int _next;

    private int _slowCallsStarted;

    public ConcurrentDictionary<int, bool> Disposed { get; } = new();

    /// <summary>Gets the scoped dependency each per-call object was given, by the object's number.</summary>
    public ConcurrentDictionary<int, CallDependency> Dependencies { get; } = new();

    /// <summary>Gets how many slow calls reached an implementation (a test stops the server only once one runs).</summary>
    public int SlowCallsStarted => Volatile.Read(ref _slowCallsStarted);

    public void SlowCallStarted() => Interlocked.Increment(ref _slowCallsStarted);

    public int Create()
    {
        var id = Interlocked.Increment(ref _next);
        Disposed[id] = false;
        return id;
    }
}

public sealed class SingletonProbe(InstanceTracker tracker) : IProbe
{
    private readonly int _id = tracker.Create();

    public Task<int> GetInstanceAsync() => Task.FromResult(_id);

    public Task<string> GetConnectionAsync() => Task.FromResult(string.Empty);

    public async Task<int> SlowAsync(int milliseconds, CancellationToken cancellationToken = default)
    {
        tracker.SlowCallStarted();
        await Task.Delay(milliseconds, cancellationToken);
        return _id;
    }
}

/// <summary>Made per connection, with the connection injected; disposal is recorded.</summary>
public sealed class ConnectionProbe(InstanceTracker tracker, RpcConnection connection) : IProbe, IDisposable
{
    private readonly int _id = tracker.Create();

    public Task<int> GetInstanceAsync() => Task.FromResult(_id);

    public Task<string> GetConnectionAsync() => Task.FromResult(connection.RemoteEndpoint);

    public Task<int> SlowAsync(int milliseconds, CancellationToken cancellationToken = default) => Task.FromResult(_id);

    public void Dispose() => tracker.Disposed[_id] = true;
}

/// <summary>A scoped dependency of <see cref="CallProbe"/>, disposed with its call's scope.</summary>
public sealed class CallDependency : IDisposable
{
    private int _disposed;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose() => Interlocked.Exchange(ref _disposed, 1);
}

/// <summary>Made per call from a scope of its own, with a scoped dependency and the connection injected; disposal is recorded.</summary>
public sealed class CallProbe : IProbe, IAsyncDisposable
{
    private readonly InstanceTracker _tracker;
    private readonly RpcConnection _connection;
    private readonly int _id;

    public CallProbe(InstanceTracker tracker, CallDependency dependency, RpcConnection connection)
    {
        _tracker = tracker;
        _connection = connection;
        _id = tracker.Create();
        tracker.Dependencies[_id] = dependency;
    }

    public Task<int> GetInstanceAsync() => Task.FromResult(_id);

    public Task<string> GetConnectionAsync() => Task.FromResult(_connection.RemoteEndpoint);

    public async Task<int> SlowAsync(int milliseconds, CancellationToken cancellationToken = default)
    {
        _tracker.SlowCallStarted();
        await Task.Delay(milliseconds, cancellationToken);
        return _id;
    }

    public ValueTask DisposeAsync()
    {
        _tracker.Disposed[_id] = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>A scoped dependency that takes the connection: a per-call scope cannot give it one.</summary>
public sealed class ConnectionDependency(RpcConnection connection)
{
    public RpcConnection Connection { get; } = connection;
}

/// <summary>A per-call implementation whose scoped dependency asks for the connection.</summary>
public sealed class ConnectionDependentProbe(ConnectionDependency dependency) : IProbe
{
    public Task<int> GetInstanceAsync() => Task.FromResult(0);

    public Task<string> GetConnectionAsync() => Task.FromResult(dependency.Connection.RemoteEndpoint);

    public Task<int> SlowAsync(int milliseconds, CancellationToken cancellationToken = default) => Task.FromResult(0);
}
