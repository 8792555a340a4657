using System;
using System.Collections.Generic;

namespace Rpc;

/// <summary>How a parent and the child it starts exchange bytes.</summary>
public enum RpcChildTransport
{
    /// <summary>
    /// Two anonymous pipes inherited by the child (their descriptors are passed in <c>RPC_PARENT_PIPES</c>): the child's
    /// stdin, stdout and stderr stay free for the console and logging. The default.
    /// </summary>
    AnonymousPipes,

    /// <summary>
    /// The child's stdin and stdout. Works with any launcher that forwards standard streams (for example through a
    /// wrapper script or a container runtime); the child's stdout is no longer available, and
    /// <see cref="RpcChildProcess.ConnectToParent"/> points its fd 1 and <see cref="Console.Out"/> at stderr.
    /// </summary>
    StandardStreams,
}

/// <summary>What to start, and how to talk to it.</summary>
public sealed class RpcChildProcessOptions
{
    /// <summary>Gets or sets the program to run, for example <c>dotnet</c> or the path of an apphost.</summary>
    public string FileName { get; set; } = string.Empty;

    /// <summary>Gets the command-line arguments, each passed as is (no shell quoting).</summary>
    public IList<string> Arguments { get; } = new List<string>();

    /// <summary>Gets or sets the working directory, or <see langword="null"/> for the parent's.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>Gets environment variables to set (a <see langword="null"/> value removes one) on top of the parent's.</summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>Gets or sets how the connection travels. Default: <see cref="RpcChildTransport.AnonymousPipes"/>.</summary>
    public RpcChildTransport Transport { get; set; } = RpcChildTransport.AnonymousPipes;

    /// <summary>
    /// Gets or sets whether the child's stdout is captured (read it from <see cref="RpcChildProcess.Process"/>) instead of
    /// inherited. Ignored with <see cref="RpcChildTransport.StandardStreams"/>, where stdout carries the connection.
    /// Default: <see langword="false"/>, the child writes to the parent's stdout.
    /// </summary>
    public bool RedirectStandardOutput { get; set; }

    /// <summary>Gets or sets whether the child's stderr is captured instead of inherited. Default: <see langword="false"/>.</summary>
    public bool RedirectStandardError { get; set; }

    /// <summary>
    /// Gets or sets the settings of the connection to the child. Its <see cref="RpcConnectionOptions.LoggerFactory"/> also
    /// logs the child's start and exit (an exit nobody asked for as a warning).
    /// </summary>
    public RpcConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Gets or sets how long disposing waits for the child to exit once its connection is closed, before killing it
    /// (and its descendants). Default: 5 s.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(FileName))
        {
            throw new ArgumentException("RpcChildProcessOptions.FileName is required.", nameof(FileName));
        }

        if (Transport is not (RpcChildTransport.AnonymousPipes or RpcChildTransport.StandardStreams))
        {
            throw new ArgumentOutOfRangeException(nameof(Transport), Transport, "Unknown child transport.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ShutdownTimeout, TimeSpan.Zero, nameof(ShutdownTimeout));
        ArgumentNullException.ThrowIfNull(Connection, nameof(Connection));
        Connection.Validate();
    }
}
