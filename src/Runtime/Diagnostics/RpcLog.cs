using System;
using Microsoft.Extensions.Logging;

namespace Rpc.Diagnostics;

/// <summary>
/// Every message Rpc logs, source-generated (no boxing, no parsing of templates at run time, NativeAOT-safe). Event ids
/// by area: 1xxx connections and the server, 2xxx protocol, 3xxx calls, 4xxx groups, 5xxx work queues, 6xxx child
/// processes. The README's "Logging" table lists them; keep it in step.
/// </summary>
internal static partial class RpcLog
{
    /// <summary>The category of connection-level and call events (both sides of a connection).</summary>
    public const string ConnectionCategory = "Rpc.RpcConnection";

    /// <summary>The category of the server's accept loop, refused clients and shutdown.</summary>
    public const string ServerCategory = "Rpc.RpcServer";

    /// <summary>The category of groups.</summary>
    public const string GroupCategory = "Rpc.RpcGroup";

    /// <summary>The category of work-queue hubs.</summary>
    public const string WorkQueueCategory = "Rpc.WorkQueueHub";

    /// <summary>The category of child processes.</summary>
    public const string ChildProcessCategory = "Rpc.RpcChildProcess";

    /// <summary>The category of reconnecting clients.</summary>
    public const string ClientCategory = "Rpc.RpcClient";

    /// <summary>Logs a connection's end at the level its reason deserves (see the README's level policy).</summary>
    /// <param name="logger">The connection's logger.</param>
    /// <param name="remoteEndpoint">The peer.</param>
    /// <param name="reason">Why it closed, or <see langword="null"/> after a local close.</param>
    /// <param name="peerHungUp">Whether the peer closed it between messages.</param>
    public static void Closed(ILogger logger, string remoteEndpoint, Exception? reason, bool peerHungUp)
    {
        switch (reason)
        {
            case null:
                ConnectionClosed(logger, remoteEndpoint, "closed locally");
                break;
            case ConnectionLostException when peerHungUp:
                ConnectionClosed(logger, remoteEndpoint, "the peer closed it");
                break;
            case ConnectionLostException lost:
                ConnectionLost(logger, remoteEndpoint, lost.Message);
                break;
            case KeepAliveTimeoutException timeout:
                KeepAliveTimedOut(logger, remoteEndpoint, timeout.Message);
                break;
            case RpcProtocolException violation:
                ProtocolViolation(logger, remoteEndpoint, violation.Message);
                break;
            default:
                ConnectionFailed(logger, remoteEndpoint, reason.Message, reason);
                break;
        }
    }

    /// <summary>Logs a client the server closed before it became a connection, at the level its reason deserves.</summary>
    /// <param name="logger">The server's logger.</param>
    /// <param name="remoteEndpoint">The client.</param>
    /// <param name="reason">Why (see <c>ProtocolSniffer</c>).</param>
    public static void Refused(ILogger logger, string remoteEndpoint, Exception reason)
    {
        switch (reason)
        {
            case ConnectionLostException:
                // Load balancers' and orchestrators' TCP health checks connect and close: routine, not news.
                ClientLeftBeforeProtocol(logger, remoteEndpoint);
                break;
            case TimeoutException timeout:
                SilentClientRefused(logger, remoteEndpoint, timeout.Message);
                break;
            default:
                ClientRefused(logger, remoteEndpoint, reason.Message);
                break;
        }
    }

    // ---- 1xxx connections and server ----

    [LoggerMessage(1001, LogLevel.Debug, "Accepted a {Protocol} connection from {RemoteEndpoint}.")]
    public static partial void ConnectionAccepted(ILogger logger, string remoteEndpoint, RpcProtocol protocol);

    [LoggerMessage(1002, LogLevel.Debug, "The connection to {RemoteEndpoint} closed ({Reason}).")]
    public static partial void ConnectionClosed(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(1003, LogLevel.Information, "The connection to {RemoteEndpoint} was lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(1004, LogLevel.Warning, "The connection to {RemoteEndpoint} closed: {Reason}")]
    public static partial void KeepAliveTimedOut(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(1005, LogLevel.Warning, "The connection to {RemoteEndpoint} failed: {Reason}")]
    public static partial void ConnectionFailed(ILogger logger, string remoteEndpoint, string reason, Exception exception);

    [LoggerMessage(1006, LogLevel.Error, "The server stopped accepting connections on {Endpoint}.")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(1007, LogLevel.Warning, "{Calls} calls were still running when the shutdown timeout ({Timeout}) passed; their cancellation tokens fire now.")]
    public static partial void DrainTimedOut(ILogger logger, int calls, TimeSpan timeout);

    [LoggerMessage(1008, LogLevel.Error, "The server could not set up the connection from {RemoteEndpoint}; it was closed.")]
    public static partial void ConnectionSetupFailed(ILogger logger, string remoteEndpoint, Exception exception);

    /// <remarks>
    /// Warning for the first failure in a row, Debug for the following: a server down for an hour is one line an operator
    /// sees, not one per backoff step (<see cref="ClientReconnected"/> or <see cref="ClientGaveUp"/> ends the episode).
    /// </remarks>
    [LoggerMessage(EventId = 1009, Message = "Connecting to {Endpoint} failed (attempt {Attempt} in a row); trying again in {Delay}: {Reason}")]
    public static partial void ClientConnectFailed(ILogger logger, LogLevel level, string endpoint, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(1010, LogLevel.Information, "Reconnected to {Endpoint} after {Attempts} attempt(s).")]
    public static partial void ClientReconnected(ILogger logger, string endpoint, int attempts);

    [LoggerMessage(1011, LogLevel.Error, "Gave up connecting to {Endpoint} after {Attempts} failed attempt(s) in a row; calls fail until ConnectAsync or a call starts it again.")]
    public static partial void ClientGaveUp(ILogger logger, string endpoint, int attempts, Exception exception);

    // ---- 2xxx protocol ----

    [LoggerMessage(2001, LogLevel.Warning, "The peer {RemoteEndpoint} violated the protocol; the connection was closed: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "Refused the client {RemoteEndpoint}: {Reason}")]
    public static partial void ClientRefused(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(2003, LogLevel.Information, "Refused the client {RemoteEndpoint}: {Reason}")]
    public static partial void SilentClientRefused(ILogger logger, string remoteEndpoint, string reason);

    [LoggerMessage(2004, LogLevel.Debug, "The client {RemoteEndpoint} closed its connection before choosing a protocol.")]
    public static partial void ClientLeftBeforeProtocol(ILogger logger, string remoteEndpoint);

    // ---- 3xxx calls ----

    [LoggerMessage(3001, LogLevel.Warning, "The method '{Method}' called by {RemoteEndpoint} threw; the caller gets the error.")]
    public static partial void MethodFailed(ILogger logger, string method, string remoteEndpoint, Exception exception);

    [LoggerMessage(3002, LogLevel.Warning, "The notification '{Method}' sent by {RemoteEndpoint} threw; nobody else sees this error.")]
    public static partial void NotificationFailed(ILogger logger, string method, string remoteEndpoint, Exception exception);

    // ---- 4xxx groups ----

    [LoggerMessage(4001, LogLevel.Warning, "The group '{Group}' disconnected the member {RemoteEndpoint}: its queue of {Capacity} messages was full ({Policy}).")]
    public static partial void MemberDisconnected(ILogger logger, string group, string remoteEndpoint, int capacity, RpcFullQueuePolicy policy);

    [LoggerMessage(4002, LogLevel.Information, "The member {RemoteEndpoint} left the group '{Group}' with {Discarded} messages still queued; they were discarded.")]
    public static partial void MemberLeftWithMessages(ILogger logger, string remoteEndpoint, string group, int discarded);

    // ---- 5xxx work queues ----

    [LoggerMessage(5001, LogLevel.Warning, "The work queue '{Queue}' lost the worker {RemoteEndpoint} running '{Method}' (attempt {Attempt}); the call runs again on another worker.")]
    public static partial void WorkerLostCallRerun(ILogger logger, string queue, string remoteEndpoint, string method, int attempt);

    [LoggerMessage(5002, LogLevel.Warning, "The work queue '{Queue}' lost the worker {RemoteEndpoint} running '{Method}'; the call failed with WorkerLostException.")]
    public static partial void WorkerLostCallFailed(ILogger logger, string queue, string remoteEndpoint, string method);

    // ---- 6xxx child processes ----

    [LoggerMessage(6001, LogLevel.Debug, "Started the child process {ProcessId} ({FileName}).")]
    public static partial void ChildStarted(ILogger logger, int processId, string fileName);

    [LoggerMessage(6002, LogLevel.Debug, "The child process {ProcessId} exited with code {ExitCode}.")]
    public static partial void ChildExited(ILogger logger, int processId, int exitCode);

    [LoggerMessage(6003, LogLevel.Warning, "The child process {ProcessId} exited unexpectedly with code {ExitCode}.")]
    public static partial void ChildExitedUnexpectedly(ILogger logger, int processId, int exitCode);

    [LoggerMessage(6004, LogLevel.Warning, "The child process {ProcessId} did not exit within the shutdown timeout ({Timeout}); killing it.")]
    public static partial void ChildKilledAtShutdown(ILogger logger, int processId, TimeSpan timeout);
}
