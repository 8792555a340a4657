using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Interop;

// The calls behind pipe connections and child processes: non-blocking read/write woken through
// poll, an eventfd to interrupt them, descriptor flags, and the parent-death signal.
internal static unsafe partial class LibC
{
    internal const short PollIn = 0x001;
    internal const short PollOut = 0x004;

    private const int FGetFd = 1;
    private const int FSetFd = 2;
    private const int FGetFl = 3;
    private const int FSetFl = 4;
    private const int FdCloExec = 1;
    private const int ONonBlock = 0x800;
    private const int EfdCloExec = 0x80000;
    private const int PrSetPDeathSig = 1;

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint argument2, nuint argument3, nuint argument4, nuint argument5);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "getppid")]
    internal static partial int GetParentProcessId();

    /// <summary>A descriptor that becomes readable, for good, once it is signalled: the wake-up of every blocked poll.</summary>
    internal static int CreateEventFd()
    {
        var fd = EventFd(0, EfdCloExec);
        return fd >= 0 ? fd : throw Error("eventfd");
    }

    internal static void SetNonBlocking(int fd)
    {
        var flags = Fcntl(fd, FGetFl, 0);
        if (flags < 0 || Fcntl(fd, FSetFl, flags | ONonBlock) < 0)
        {
            throw Error("fcntl(F_SETFL, O_NONBLOCK)");
        }
    }

    /// <summary>A close-on-exec duplicate of <paramref name="fd"/> (<c>F_DUPFD_CLOEXEC</c>).</summary>
    internal static int Duplicate(int fd)
    {
        const int FDupFdCloExec = 1030;
        var copy = Fcntl(fd, FDupFdCloExec, 3);
        return copy >= 0 ? copy : throw Error("fcntl(F_DUPFD_CLOEXEC)");
    }

    /// <summary>Makes <paramref name="target"/> refer to what <paramref name="source"/> refers to.</summary>
    internal static void Redirect(int source, int target)
    {
        while (Dup2(source, target) < 0)
        {
            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                throw Error("dup2");
            }
        }
    }

    /// <summary>Keeps an inherited descriptor out of any process this one starts later.</summary>
    internal static void SetCloseOnExec(int fd)
    {
        var flags = Fcntl(fd, FGetFd, 0);
        if (flags < 0 || Fcntl(fd, FSetFd, flags | FdCloExec) < 0)
        {
            throw Error("fcntl(F_SETFD, FD_CLOEXEC)");
        }
    }

    /// <summary>Asks the kernel to send <paramref name="signal"/> to this process when the thread that forked it ends.</summary>
    internal static bool TrySetParentDeathSignal(int signal) => Prctl(PrSetPDeathSig, (nuint)signal, 0, 0, 0) == 0;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }
}
