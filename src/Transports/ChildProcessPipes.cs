using System;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using Rpc.Transports.Internal.Pipes;

namespace Rpc.Transports;

/// <summary>
/// The parent's side of the pipes to one child process, made by <see cref="ChildProcessTransport.CreatePipes"/>: start the
/// child with <see cref="StartProcess"/>, then <see cref="Connect"/>. Dispose it once the connection is disposed.
/// </summary>
public sealed class ChildProcessPipes : IDisposable
{
    private readonly AnonymousPipeServerStream? _toChild;
    private readonly AnonymousPipeServerStream? _fromChild;
    private Process? _process;

    internal ChildProcessPipes(AnonymousPipeServerStream? toChild, AnonymousPipeServerStream? fromChild)
    {
        _toChild = toChild;
        _fromChild = fromChild;
    }

    /// <summary>
    /// Starts <paramref name="process"/> (whose <see cref="Process.StartInfo"/> is the one given to
    /// <see cref="ChildProcessTransport.CreatePipes"/>), then closes this process's copies of the child's pipe ends, whether
    /// the start succeeded or not: a parent holding them would never read end-of-stream when the child dies.
    /// </summary>
    /// <param name="process">The child, not started yet.</param>
    public void StartProcess(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            process.Start();
            _process = process;
        }
        finally
        {
            _toChild?.DisposeLocalCopyOfClientHandle();
            _fromChild?.DisposeLocalCopyOfClientHandle();
        }
    }

    /// <summary>Starts the connection to the child started by <see cref="StartProcess"/>.</summary>
    /// <param name="options">Transport settings, or <see langword="null"/> for the defaults.</param>
    /// <param name="peerEndReason">
    /// Called on the receive thread when the child's end closes or breaks before ours; may block briefly (to wait for the
    /// child's exit code, say) and returns the exception the input completes with, or <see langword="null"/> for a plain close.
    /// </param>
    /// <returns>The connection, named "child process &lt;pid&gt;" in errors.</returns>
    /// <exception cref="InvalidOperationException">The child was not started with <see cref="StartProcess"/>.</exception>
    public TransportConnection Connect(TransportOptions? options = null, Func<Exception?>? peerEndReason = null)
    {
        var process = _process ?? throw new InvalidOperationException("Start the child with ChildProcessPipes.StartProcess before connecting to it.");
        options ??= TransportOptions.Default;
        var description = string.Create(CultureInfo.InvariantCulture, $"child process {process.Id}");
        if (_toChild is null || _fromChild is null)
        {
            var stdin = process.StandardInput.BaseStream as PipeStream
                ?? throw new NotSupportedException("The child's redirected stdin is not a pipe stream on this platform.");
            var stdout = process.StandardOutput.BaseStream as PipeStream
                ?? throw new NotSupportedException("The child's redirected stdout is not a pipe stream on this platform.");
            return PipeConnection.Start(stdout.SafePipeHandle, stdin.SafePipeHandle, options, description + " (stdin/stdout)", peerEndReason);
        }

        return PipeConnection.Start(_fromChild.SafePipeHandle, _toChild.SafePipeHandle, options, description, peerEndReason);
    }

    /// <summary>Closes the pipes (a connection over them ends). Idempotent.</summary>
    public void Dispose()
    {
        _toChild?.Dispose();
        _fromChild?.Dispose();
    }
}
