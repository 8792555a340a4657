using System;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Hosting;

/// <summary>
/// A hosted group subscriber (<c>services.AddRpcSubscriber&lt;TCallback, TImplementation&gt;()</c>): bound from
/// <c>Rpc:Subscribers:&lt;callback contract name&gt;</c>, for example
/// <c>{"Endpoint": "unix:///run/prices.sock", "Client": {"Reconnect": {"MaxDelay": "00:00:05"}}}</c>.
/// </summary>
public sealed class RpcSubscriberOptions
{
    /// <summary>Gets or sets the endpoint of the server whose groups the subscriber joins.</summary>
    public string? Endpoint { get; set; }

    /// <summary>
    /// Gets or sets the settings of the reconnecting <see cref="RpcClient"/> the subscriber connects with. Its
    /// <see cref="RpcClientOptions.Configure"/> and <see cref="RpcClientOptions.Reconnected"/> run before the
    /// subscriber's own steps (serving the callback, <see cref="Subscribe"/>).
    /// </summary>
    public RpcClientOptions Client { get; set; } = new();

    /// <summary>
    /// Gets or sets what joins the server's groups, run on every new connection once it serves the callback: for
    /// example <c>(connection, ct) =&gt; connection.CreateProxy&lt;IFeed&gt;().SubscribeAsync("prices")</c>. If it
    /// throws, the connection is closed and the client connects (and subscribes) again after its backoff.
    /// <see langword="null"/> when the server adds its clients to groups by itself.
    /// </summary>
    public Func<RpcConnection, CancellationToken, Task>? Subscribe { get; set; }
}
