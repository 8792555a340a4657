using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.Pipes;

/// <summary>
/// The child's side of the hand-over from <c>RpcChildProcess</c>: which descriptors lead to the parent, and the
/// parent-death guarantees. Linux only.
/// </summary>
internal static class ChildProcessEnvironment
{
    /// <summary><c>&lt;fd the child reads&gt;,&lt;fd the child writes&gt;</c>, or <c>stdio</c>.</summary>
    internal const string PipesVariable = "RPC_PARENT_PIPES";

    /// <summary>The parent's process id, to notice its death (the child is re-parented).</summary>
    internal const string ParentProcessVariable = "RPC_PARENT_PID";

    internal const string StandardStreams = "stdio";

    private const int SigKill = 9;

    public static bool IsChild => Environment.GetEnvironmentVariable(PipesVariable) is not null;

    /// <summary>
    /// Takes the descriptors leading to the parent and removes the variables, so processes this child starts do not
    /// believe they are children of our parent.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process was not started by <c>RpcChildProcess</c>.</exception>
    public static (SafeFileHandle Read, SafeFileHandle Write, int ParentProcessId) TakeParentPipes()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("RpcChildProcess is implemented on Linux.");
        }

        var spec = Environment.GetEnvironmentVariable(PipesVariable)
            ?? throw new InvalidOperationException($"This process was not started by RpcChildProcess.StartAsync or ChildProcessTransport.CreatePipes ({PipesVariable} is not set), or it already connected to its parent.");
        _ = int.TryParse(Environment.GetEnvironmentVariable(ParentProcessVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var parent);
        Environment.SetEnvironmentVariable(PipesVariable, null);
        Environment.SetEnvironmentVariable(ParentProcessVariable, null);

        if (spec == StandardStreams)
        {
            // Our own copies of stdin/stdout carry the protocol; fd 0 becomes /dev/null and fd 1 a copy of stderr, so a stray
            // Console.WriteLine or native printf in the child lands in the log instead of corrupting the frames.
            var read = new SafeFileHandle(LibC.Duplicate(0), ownsHandle: true);
            var write = new SafeFileHandle(LibC.Duplicate(1), ownsHandle: true);
            using (var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read))
            {
                LibC.Redirect((int)devNull.DangerousGetHandle(), 0);
            }

            LibC.Redirect(2, 1);
            Console.SetOut(Console.Error);
            return (read, write, parent);
        }

        var parts = spec.Split(',');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var readFd)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var writeFd))
        {
            throw new InvalidOperationException($"{PipesVariable}='{spec}' is not '<read fd>,<write fd>' or '{StandardStreams}'.");
        }

        // Inherited without close-on-exec (that is how they got here); a grandchild must not inherit them too, or it would
        // keep the pipes open after this process dies and the parent would never see the end of the stream.
        LibC.SetCloseOnExec(readFd);
        LibC.SetCloseOnExec(writeFd);
        return (new SafeFileHandle(readFd, ownsHandle: true), new SafeFileHandle(writeFd, ownsHandle: true), parent);
    }

    /// <summary>
    /// Asks the kernel to SIGKILL this process when its parent dies. Returns false when the parent is not (any more) the
    /// expected process: it died already, or a wrapper process sits in between.
    /// </summary>
    public static bool TryKillWhenParentDies(int parentProcessId)
    {
        if (parentProcessId <= 0 || LibC.GetParentProcessId() != parentProcessId)
        {
            return false;
        }

        // PR_SET_PDEATHSIG fires when the thread that forked us ends; RpcChildProcess forks from a thread that lives as long
        // as the parent process. Checking getppid() again closes the race with a parent that died before prctl().
        return LibC.TrySetParentDeathSignal(SigKill) && LibC.GetParentProcessId() == parentProcessId;
    }

    public static int ParentProcessId => LibC.GetParentProcessId();

}
