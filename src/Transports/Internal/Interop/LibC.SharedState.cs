using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal.Interop;

// The calls behind shared arrays (Rpc.SharedState) that the shm:// transport does not make.
internal static partial class LibC
{
    /// <summary>
    /// <c>link(2)</c>: gives an existing file a second name, failing with <c>EEXIST</c> (never replacing) when the name is
    /// taken; what publishes a fully initialized shared array under its name in one atomic step.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Link(string existingPath, string newPath);
}
