using System;
using System.Buffers;
using System.IO;

namespace Rpc.Serialization;

/// <summary>This machine's boot id: what shared memory handles carry so that a receiver can tell they are its own.</summary>
internal static class MachineIdentity
{
    // A random id the Linux kernel draws at each boot: equal only on the same machine, same boot, which is exactly
    // where a /dev/shm segment can exist.
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    private static byte[]? _bootId;

    /// <summary>Gets the 16 bytes of this machine's boot id.</summary>
    /// <exception cref="PlatformNotSupportedException">The system has no boot id (not Linux).</exception>
    public static byte[] BootId => _bootId ??= ReadBootId();

    /// <summary>Gets whether <paramref name="bootId"/> is this machine's, this boot's.</summary>
    public static bool IsThisBoot(ReadOnlySequence<byte> bootId) =>
        bootId.Length == 16 && (bootId.IsSingleSegment ? bootId.FirstSpan : bootId.ToArray()).SequenceEqual(BootId);

    private static byte[] ReadBootId()
    {
        try
        {
            return Guid.Parse(File.ReadAllText(BootIdPath).Trim()).ToByteArray();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new PlatformNotSupportedException($"Shared memory handles need {BootIdPath} (Linux).", exception);
        }
    }
}
