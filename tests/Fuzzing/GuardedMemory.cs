using System;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Fuzzing;

/// <summary>
/// A block of memory with an inaccessible page right before and right after it: any read or write out of its bounds
/// faults (SIGSEGV), which AFL++ records as a crash, instead of silently touching a neighbour as a heap buffer would.
/// </summary>
internal sealed unsafe partial class GuardedMemory : IDisposable
{
    private const int ProtNone = 0;
    private const int ProtReadWrite = 3;
    private const int MapPrivateAnonymous = 0x02 | 0x20;
    private const int PageSize = 4096;

    private readonly byte* _mapping;
    private readonly nuint _mappingLength;

    /// <param name="length">A multiple of the page size, so that the block ends exactly where the guard page begins.</param>
    public GuardedMemory(int length)
    {
        if (length <= 0 || length % PageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "The length must be a positive multiple of the page size.");
        }

        _mappingLength = (nuint)(length + (2 * PageSize));
        _mapping = (byte*)Mmap(0, _mappingLength, ProtNone, MapPrivateAnonymous, -1, 0);
        if (_mapping == (byte*)-1)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError());
        }

        if (Mprotect((nint)(_mapping + PageSize), (nuint)length, ProtReadWrite) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Munmap((nint)_mapping, _mappingLength);
            throw new Win32Exception(errno);
        }

        Start = _mapping + PageSize;
        Length = length;
    }

    public byte* Start { get; }

    public int Length { get; }

    public byte* End => Start + Length;

    public void Dispose() => _ = Munmap((nint)_mapping, _mappingLength);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
