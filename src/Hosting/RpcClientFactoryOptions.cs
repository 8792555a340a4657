namespace Rpc.Hosting;

/// <summary>
/// A client registered with <c>services.AddRpcClient&lt;TContract&gt;()</c>: bound from <c>Rpc:Clients:&lt;name&gt;</c>,
/// for example <c>{"Endpoint": "tcp://calc:5000", "Client": {"WaitForReady": true, "Reconnect": {"MaxDelay": "00:00:05"}}}</c>.
/// </summary>
public sealed class RpcClientFactoryOptions
{
    /// <summary>Gets or sets the server's endpoint, for example <c>unix:///run/calc.sock</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Gets or sets the settings of the <see cref="RpcClient"/>.</summary>
    public RpcClientOptions Client { get; set; } = new();
}
