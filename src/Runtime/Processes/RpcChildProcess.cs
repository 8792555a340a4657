using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Rpc.Diagnostics;
using Rpc.Processes;
using Rpc.Transports;

namespace Rpc;

/// <summary>
/// A child process connected to this one by a typed <see cref="RpcConnection"/> (Python's <c>Process</c> + <c>Pipe</c>,
/// with contracts): start it with <see cref="StartAsync{TContract}"/>; in the child, serve with
/// <see cref="ServeParentAsync{TContract}(TContract, Action{RpcConnection}, RpcConnectionOptions, CancellationToken)"/>.
/// Calls go both ways.
/// </summary>
/// <remarks>
/// <para>
/// If the child exits or crashes, pending calls fail with <see cref="ConnectionLostException"/> whose message names the
/// child's pid and exit code (a child killed by a signal reports 128 + the signal, e.g. 137 for SIGKILL).
/// </para>
/// <para>
/// If the parent dies, the child learns it three ways: its connection reaches end-of-stream (so
/// <c>ServeParentAsync</c> returns), the kernel sends it SIGKILL (<c>PR_SET_PDEATHSIG</c>, so a child that ignores the
/// connection does not outlive the parent), and a watch on its parent pid as a fallback. Linux only.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// // parent
/// await using var child = await RpcChildProcess.StartAsync&lt;IWorker&gt;(
///     new RpcChildProcessOptions { FileName = "dotnet", Arguments = { "worker.dll" } },
///     configure: c => c.AddService&lt;IProgress&gt;(progress));
/// var result = await child.Proxy.RunAsync(job);
///
/// // child (worker.dll)
/// await RpcChildProcess.ServeParentAsync&lt;IWorker&gt;(c => new Worker(c.CreateProxy&lt;IProgress&gt;()));
/// </code>
/// </example>
public class RpcChildProcess : IAsyncDisposable
{
    /// <summary>How long the end of the connection waits for the child's exit code before reporting a plain close.</summary>
    private static readonly TimeSpan ExitReportTimeout = TimeSpan.FromSeconds(1.5);

    private static readonly TimeSpan ParentWatchInterval = TimeSpan.FromMilliseconds(250);

    private readonly TransportConnection _transport;
    private readonly TaskCompletionSource<int> _exited;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ChildProcessPipes _pipes;

    // Null when the connection's RpcConnectionOptions.LoggerFactory is.
    private readonly ILogger? _logger;
    private int _disposed;

    // Set by Kill and DisposeAsync: the exit that follows was asked for.
    private volatile bool _exitRequested;

    private protected RpcChildProcess(Started started, RpcConnection connection, TimeSpan shutdownTimeout)
    {
        Process = started.Process;
        ProcessId = started.Process.Id;
        _transport = started.Transport;
        _exited = started.Exited;
        _pipes = started.Pipes;
        _shutdownTimeout = shutdownTimeout;
        Connection = connection;
        _logger = connection.Options.LoggerFactory?.CreateLogger(RpcLog.ChildProcessCategory);
        if (_logger is not null)
        {
            RpcLog.ChildStarted(_logger, ProcessId, started.Process.StartInfo.FileName);
        }

        _ = ReportExitAsync();
    }

    /// <summary>Gets the connection to the child: create more proxies with <see cref="RpcConnection.CreateProxy{TContract}"/>.</summary>
    public RpcConnection Connection { get; }

    /// <summary>Gets the child process, for its redirected output or resource usage. Do not dispose it; dispose this object.</summary>
    public Process Process { get; }

    /// <summary>Gets the child's process id.</summary>
    public int ProcessId { get; }

    /// <summary>Gets whether the child has exited.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Gets the child's exit code once it has exited, otherwise <see langword="null"/>.</summary>
    public int? ExitCode => _exited.Task.IsCompletedSuccessfully ? _exited.Task.Result : null;

    /// <summary>Gets a task that completes (never faults) when the connection to the child has closed.</summary>
    public Task Completion => Connection.Completion;

    /// <summary>Gets whether this process was started by <see cref="StartAsync(RpcChildProcessOptions, Action{RpcConnection}, CancellationToken)"/> and has not connected to its parent yet.</summary>
    public static bool HasParent => ChildProcessTransport.HasParent;

    /// <summary>Starts a child process and connects to it; the connection is started once <paramref name="configure"/> has run.</summary>
    /// <param name="options">What to start and how.</param>
    /// <param name="configure">Adds the services this parent offers the child, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start (a child already started is killed).</param>
    /// <returns>The running child.</returns>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static async Task<RpcChildProcess> StartAsync(RpcChildProcessOptions options, Action<RpcConnection>? configure = null, CancellationToken cancellationToken = default)
    {
        var (started, connection) = await StartCoreAsync(options, configure, cancellationToken).ConfigureAwait(false);
        return new RpcChildProcess(started, connection, options.ShutdownTimeout);
    }

    /// <summary>Starts a child process that serves <typeparamref name="TContract"/> and connects to it.</summary>
    /// <typeparam name="TContract">The <c>[RpcContract]</c> interface the child serves.</typeparam>
    /// <param name="options">What to start and how.</param>
    /// <param name="configure">Adds the services this parent offers the child (callbacks), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start (a child already started is killed).</param>
    /// <returns>The running child, with a typed <see cref="RpcChildProcess{TContract}.Proxy"/>.</returns>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static async Task<RpcChildProcess<TContract>> StartAsync<TContract>(RpcChildProcessOptions options, Action<RpcConnection>? configure = null, CancellationToken cancellationToken = default)
        where TContract : class
    {
        Runtime.RpcContractRegistry.Get<TContract>();
        var (started, connection) = await StartCoreAsync(options, configure, cancellationToken).ConfigureAwait(false);
        return new RpcChildProcess<TContract>(started, connection, options.ShutdownTimeout);
    }

    /// <summary>
    /// In a child started by <see cref="StartAsync(RpcChildProcessOptions, Action{RpcConnection}, CancellationToken)"/>:
    /// connects to the parent, lets <paramref name="configure"/> add services and proxies, and starts the connection.
    /// Call once.
    /// </summary>
    /// <param name="configure">Adds this child's services (and keeps proxies of the parent's), or <see langword="null"/>.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The started connection; it closes when the parent disconnects or dies.</returns>
    /// <exception cref="InvalidOperationException">This process was not started as an Rpc child, or already connected.</exception>
    public static RpcConnection ConnectToParent(Action<RpcConnection>? configure = null, RpcConnectionOptions? options = null)
    {
        options ??= RpcConnectionOptions.Default;
        options.Validate();
        var parent = ChildProcessTransport.ConnectToParent(options.Transport);
        var transport = parent.Connection;
        var connection = RpcConnection.Create(transport, options);
        try
        {
            configure?.Invoke(connection);
            connection.Start();
        }
        catch
        {
            _ = connection.DisposeAsync().AsTask();
            throw;
        }

        if (parent.KilledWithParent)
        {
            _ = WatchParentAsync(parent.ParentProcessId, transport, connection);
        }

        return connection;
    }

    /// <summary>In a child: serves <paramref name="implementation"/> to the parent until the parent disconnects or dies.</summary>
    /// <typeparam name="TContract">The <c>[RpcContract]</c> interface served.</typeparam>
    /// <param name="implementation">The object whose methods the parent calls.</param>
    /// <param name="configure">Adds more services or keeps proxies of the parent's services, or <see langword="null"/>.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Closes the connection and stops serving.</param>
    /// <returns>A task that completes when the connection to the parent has closed.</returns>
    public static Task ServeParentAsync<TContract>(TContract implementation, Action<RpcConnection>? configure = null, RpcConnectionOptions? options = null, CancellationToken cancellationToken = default)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return ServeParentAsync<TContract>(_ => implementation, configure, options, cancellationToken);
    }

    /// <summary>
    /// In a child: serves the implementation <paramref name="factory"/> makes (it gets the connection, to create proxies of
    /// the parent's services) until the parent disconnects or dies.
    /// </summary>
    /// <typeparam name="TContract">The <c>[RpcContract]</c> interface served.</typeparam>
    /// <param name="factory">Makes the implementation.</param>
    /// <param name="configure">Adds more services, or <see langword="null"/>.</param>
    /// <param name="options">Connection settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Closes the connection and stops serving.</param>
    /// <returns>A task that completes when the connection to the parent has closed.</returns>
    public static async Task ServeParentAsync<TContract>(Func<RpcConnection, TContract> factory, Action<RpcConnection>? configure = null, RpcConnectionOptions? options = null, CancellationToken cancellationToken = default)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        var connection = ConnectToParent(
            c =>
            {
                c.AddService(factory(c));
                configure?.Invoke(c);
            },
            options);
        try
        {
            await connection.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the child to exit.</summary>
    /// <param name="cancellationToken">Stops waiting; the child keeps running.</param>
    /// <returns>The child's exit code (128 + the signal number if a signal killed it).</returns>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        return await _exited.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Kills the child and its descendants at once (SIGKILL). Pending calls fail with <see cref="ConnectionLostException"/>.</summary>
    public void Kill()
    {
        _exitRequested = true;
        try
        {
            Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited already.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting right now.
        }
    }

    /// <summary>
    /// Closes the connection (the child sees end-of-stream, and <c>ServeParentAsync</c> returns there), waits up to
    /// <see cref="RpcChildProcessOptions.ShutdownTimeout"/> for the child to exit, then kills it. Idempotent.
    /// </summary>
    /// <returns>A task that completes when the child has exited and every resource is released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _exitRequested = true;
        try
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
            try
            {
                await _exited.Task.WaitAsync(_shutdownTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                if (_logger is not null)
                {
                    RpcLog.ChildKilledAtShutdown(_logger, ProcessId, _shutdownTimeout);
                }

                Kill();
                try
                {
                    await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // A process in uninterruptible sleep; nothing more a parent can do.
                }
            }
        }
        finally
        {
            _pipes.Dispose();
            Process.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    private static string ExitMessage(int processId, int exitCode) =>
        string.Create(CultureInfo.InvariantCulture, $"The child process {processId} exited with code {exitCode}.");

    private static async Task<(Started Started, RpcConnection Connection)> StartCoreAsync(RpcChildProcessOptions options, Action<RpcConnection>? configure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("RpcChildProcess is implemented on Linux.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var started = await ProcessSpawner.RunAsync(() => Spawn(options)).ConfigureAwait(false);
        RpcConnection? connection = null;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            connection = RpcConnection.Create(started.Transport, options.Connection);
            configure?.Invoke(connection);
            connection.Start();
            return (started, connection);
        }
        catch
        {
            try
            {
                started.Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await started.Transport.DisposeAsync().ConfigureAwait(false);
            }

            started.Pipes.Dispose();
            started.Process.Dispose();
            throw;
        }
    }

    /// <summary>Runs on <see cref="ProcessSpawner"/>'s thread.</summary>
    private static Started Spawn(RpcChildProcessOptions options)
    {
        var standardStreams = options.Transport == RpcChildTransport.StandardStreams;
        var info = new ProcessStartInfo(options.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = options.RedirectStandardOutput,
            RedirectStandardError = options.RedirectStandardError,
        };
        foreach (var argument in options.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (options.WorkingDirectory is not null)
        {
            info.WorkingDirectory = options.WorkingDirectory;
        }

        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        ChildProcessPipes? pipes = null;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult(process.ExitCode);
        try
        {
            pipes = ChildProcessTransport.CreatePipes(info, standardStreams);
            pipes.StartProcess(process);
            Func<Exception?> peerEnd = () => process.WaitForExit(ExitReportTimeout)
                ? new ConnectionLostException(ExitMessage(process.Id, process.ExitCode))
                : null;
            var transport = pipes.Connect(options.Connection.Transport, peerEnd);
            return new Started(process, transport, exited, pipes);
        }
        catch
        {
            try
            {
                if (process.Id > 0)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
            }

            pipes?.Dispose();
            process.Dispose();
            throw;
        }
    }

    /// <summary>In the child: polls the parent pid, in case PR_SET_PDEATHSIG could not be set or the pipes leaked elsewhere.</summary>
    private static async Task WatchParentAsync(int parent, TransportConnection transport, RpcConnection connection)
    {
        using var timer = new PeriodicTimer(ParentWatchInterval);
        while (!connection.Completion.IsCompleted && await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            if (ChildProcessTransport.CurrentParentProcessId != parent)
            {
                transport.Abort(new ConnectionLostException(string.Create(CultureInfo.InvariantCulture, $"The parent process {parent} exited.")));
                return;
            }
        }
    }

    /// <summary>
    /// The end of the pipe normally reports the child's exit (with its code); this covers a pipe kept open by a process the
    /// child left behind.
    /// </summary>
    private async Task ReportExitAsync()
    {
        var exitCode = await _exited.Task.ConfigureAwait(false);
        if (_logger is not null)
        {
            if (_exitRequested)
            {
                RpcLog.ChildExited(_logger, ProcessId, exitCode);
            }
            else
            {
                RpcLog.ChildExitedUnexpectedly(_logger, ProcessId, exitCode);
            }
        }

        if (await Task.WhenAny(Connection.Completion, Task.Delay(ExitReportTimeout)).ConfigureAwait(false) != Connection.Completion)
        {
            _transport.Abort(new ConnectionLostException(ExitMessage(ProcessId, exitCode)));
        }
    }

    internal sealed record Started(Process Process, TransportConnection Transport, TaskCompletionSource<int> Exited, ChildProcessPipes Pipes);
}

/// <summary>A child process that serves <typeparamref name="TContract"/>, with a typed proxy to it.</summary>
/// <typeparam name="TContract">The <c>[RpcContract]</c> interface the child serves.</typeparam>
public sealed class RpcChildProcess<TContract> : RpcChildProcess
    where TContract : class
{
    internal RpcChildProcess(Started started, RpcConnection connection, TimeSpan shutdownTimeout)
        : base(started, connection, shutdownTimeout) => Proxy = connection.CreateProxy<TContract>();

    /// <summary>Gets the proxy of the contract the child serves.</summary>
    public TContract Proxy { get; }
}
