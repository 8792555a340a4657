using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Pipes;
using Rpc.Transports.Internal.Pipes;

namespace Rpc.Transports;

/// <summary>
/// Connections between a parent process and a child it starts, carried by two inherited anonymous pipes or by the
/// child's stdin/stdout and exposed as the same <see cref="TransportConnection"/> as every other transport. Linux only.
/// </summary>
/// <remarks>
/// <para>
/// Parent: <see cref="CreatePipes"/> prepares the <see cref="ProcessStartInfo"/>, <see cref="ChildProcessPipes.StartProcess"/>
/// starts the child, <see cref="ChildProcessPipes.Connect"/> returns the connection. Child:
/// <see cref="ConnectToParent"/>. The hand-over travels in environment variables that the child removes when it
/// connects, so processes it starts in turn are not mistaken for children of this parent.
/// </para>
/// <para>
/// When the child dies the parent's input ends (the kernel closes the child's ends); when the parent dies the child's
/// input ends, and <see cref="ConnectToParent"/> also asks the kernel to SIGKILL the child (<c>PR_SET_PDEATHSIG</c>).
/// </para>
/// </remarks>
public static class ChildProcessTransport
{
    /// <summary>Gets whether this process was started with <see cref="CreatePipes"/> and has not connected to its parent yet.</summary>
    public static bool HasParent => ChildProcessEnvironment.IsChild;

    /// <summary>
    /// Gets this process's current parent process id (<c>getppid</c>). It changes when the parent dies and the process is
    /// re-parented, which makes it a fallback check of <see cref="ParentProcessConnection.ParentProcessId"/>.
    /// </summary>
    public static int CurrentParentProcessId => ChildProcessEnvironment.ParentProcessId;

    /// <summary>
    /// Parent side, before starting the child: creates the pipes and records in <paramref name="startInfo"/>'s environment
    /// how the child finds them (and the parent's pid).
    /// </summary>
    /// <param name="startInfo">
    /// How to start the child; <see cref="ProcessStartInfo.UseShellExecute"/> must be <see langword="false"/>. With
    /// <paramref name="useStandardStreams"/>, standard input and output are redirected.
    /// </param>
    /// <param name="useStandardStreams">
    /// <see langword="false"/> (the default): two inherited anonymous pipes, so the child's stdout and stderr stay free.
    /// <see langword="true"/>: the child's stdin and stdout carry the connection (for a child that cannot inherit
    /// descriptors); the child's stdout is then re-pointed at its stderr when it connects.
    /// </param>
    /// <returns>The pipes; start the child with <see cref="ChildProcessPipes.StartProcess"/>.</returns>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    /// <exception cref="ArgumentException"><paramref name="startInfo"/> uses the shell.</exception>
    public static ChildProcessPipes CreatePipes(ProcessStartInfo startInfo, bool useStandardStreams = false)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Child-process pipes are implemented on Linux.");
        }

        if (startInfo.UseShellExecute)
        {
            throw new ArgumentException("ProcessStartInfo.UseShellExecute must be false: a shell would neither pass the environment nor the pipes.", nameof(startInfo));
        }

        startInfo.Environment[ChildProcessEnvironment.ParentProcessVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (useStandardStreams)
        {
            startInfo.RedirectStandardInput = true;
            startInfo.RedirectStandardOutput = true;
            startInfo.Environment[ChildProcessEnvironment.PipesVariable] = ChildProcessEnvironment.StandardStreams;
            return new ChildProcessPipes(toChild: null, fromChild: null);
        }

        // Created close-on-exec except for the child's ends, which .NET leaves inheritable: a forked child keeps
        // descriptors without FD_CLOEXEC across exec, so the numbers below are valid in the child.
        var toChild = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        try
        {
            var fromChild = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
            startInfo.Environment[ChildProcessEnvironment.PipesVariable] = toChild.GetClientHandleAsString() + "," + fromChild.GetClientHandleAsString();
            return new ChildProcessPipes(toChild, fromChild);
        }
        catch
        {
            toChild.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Child side: takes the pipes the parent handed over, asks the kernel to kill this process when the parent dies, and
    /// starts the connection. Call once.
    /// </summary>
    /// <param name="options">Transport settings, or <see langword="null"/> for the defaults.</param>
    /// <returns>The connection to the parent, and what is known about the parent.</returns>
    /// <exception cref="InvalidOperationException">This process was not started through <see cref="CreatePipes"/>, or already connected.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static ParentProcessConnection ConnectToParent(TransportOptions? options = null)
    {
        var (read, write, parent) = ChildProcessEnvironment.TakeParentPipes();
        var killedWithParent = ChildProcessEnvironment.TryKillWhenParentDies(parent);
        var description = parent > 0 ? "parent process " + parent.ToString(CultureInfo.InvariantCulture) : "parent process";
        try
        {
            return new ParentProcessConnection(PipeConnection.Start(read, write, options ?? TransportOptions.Default, description), parent, killedWithParent);
        }
        catch
        {
            read.Dispose();
            write.Dispose();
            throw;
        }
    }
}
