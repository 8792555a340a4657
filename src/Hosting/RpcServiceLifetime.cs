namespace Rpc.Hosting;

/// <summary>How long one implementation object of a hosted service lives.</summary>
public enum RpcServiceLifetime
{
    /// <summary>One object, resolved from the container, serves every connection; it must be safe to call concurrently.</summary>
    Singleton,

    /// <summary>
    /// One object per connection, resolved from a dependency-injection scope of that connection; the scope (and the
    /// object, if disposable) is disposed when the connection closes. Its constructor may take the
    /// <see cref="RpcConnection"/>, to call the client back.
    /// </summary>
    PerConnection,

    /// <summary>
    /// One object per call, made with its dependencies from a dependency-injection scope of that call; the object (if
    /// disposable) and the scope are disposed when the call is over: its task completed, its stream ended or was
    /// abandoned, its notification returned. Its constructor may take the call's <see cref="RpcConnection"/> (its scoped
    /// dependencies may not: the scope would own the connection and close it). Calls never share an object, so it need
    /// not be thread-safe.
    /// </summary>
    PerCall,
}
