using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal.Interop;

namespace Rpc.Transports.Internal.SharedMemory;

/// <summary>
/// One connection's mapped file: a 4 KiB header followed by two rings, server→client (ring 0) and client→server (ring 1).
/// </summary>
/// <remarks>
/// <para>
/// Header: magic, version, ring size, creator pid and start time, peer pid and start time; then each ring's control block
/// (<see cref="SpscRing"/>): a producer line and a consumer line, 128 bytes apart so that neither side's writes invalidate
/// the line the other side writes (64-byte lines, plus the adjacent-line prefetcher that pairs them).
/// </para>
/// <para>Files are created, opened and mapped by <see cref="SharedMemoryFile"/> (exclusive, owner-only, never following links).</para>
/// </remarks>
internal sealed unsafe class SharedMemorySegment : IDisposable
{
    internal const int HeaderSize = 4096;
    internal const int MinRingBytes = 4096;
    internal const int MaxRingBytes = 1 << 30;
    internal const int DefaultRingBytes = 1 << 20;

    private const ulong Magic = 0x31304D4853435052; // "RPCSHM01"
    private const int Version = 1;
    private const int MagicOffset = 0;
    private const int VersionOffset = 8;
    private const int RingBytesOffset = 12;
    private const int CreatorPidOffset = 16;
    private const int CreatorStartOffset = 24;
    private const int PeerPidOffset = 32;
    private const int PeerStartOffset = 40;
    private const int RingControlOffset = 256;
    private const int RingControlSize = 256;

    private readonly MappedFile _mapping;
    private readonly byte* _base;
    private string? _pathToUnlink;
    private int _disposed;

    private SharedMemorySegment(MappedFile mapping, string path, int ringBytes, bool created)
    {
        _mapping = mapping;
        _base = mapping.Base;
        Path = path;
        RingBytes = ringBytes;
        _pathToUnlink = created ? path : null;
    }

    public string Path { get; }

    public int RingBytes { get; }

    public static long TotalSize(int ringBytes) => HeaderSize + (2L * ringBytes);

    public static bool IsValidRingSize(int ringBytes) =>
        ringBytes is >= MinRingBytes and <= MaxRingBytes && (ringBytes & (ringBytes - 1)) == 0;

    /// <summary>Gets ring 0 (server → client) or ring 1 (client → server).</summary>
    public SpscRing Ring(int index) =>
        new(_base + RingControlOffset + (index * RingControlSize), _base + HeaderSize + ((long)index * RingBytes), RingBytes);

    /// <summary>Creates a new segment named <paramref name="prefix"/>&lt;pid&gt;-&lt;random&gt; in <paramref name="directory"/>.</summary>
    public static SharedMemorySegment Create(string directory, string prefix, int ringBytes)
    {
        for (var attempt = 0; ; attempt++)
        {
            var name = prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var path = System.IO.Path.Combine(directory, name);
            var fd = SharedMemoryFile.CreateExclusive(path, TotalSize(ringBytes), out _);
            if (fd < 0)
            {
                if (attempt < 8)
                {
                    continue;
                }

                throw new IOException($"Cannot create the shared-memory segment '{path}': it already exists.");
            }

            var segment = Map(fd, path, ringBytes, created: true);
            segment.InitializeHeader();
            return segment;
        }
    }

    /// <summary>Opens the segment a server created, after checking it is a regular 0600 file of ours of the expected size.</summary>
    public static SharedMemorySegment Open(string path, int ringBytes)
    {
        var fd = SharedMemoryFile.OpenChecked(path, TotalSize(ringBytes), out _, out _);
        var segment = Map(fd, path, ringBytes, created: false);
        try
        {
            segment.CheckHeader();
        }
        catch
        {
            segment.Dispose();
            throw;
        }

        return segment;
    }

    /// <summary>Records the process that opened the segment (the client), for diagnostics and stale-file checks.</summary>
    public void RecordPeer()
    {
        *(ulong*)(_base + PeerStartOffset) = ProcessIdentity.CurrentStartTime;
        Volatile.Write(ref *(int*)(_base + PeerPidOffset), Environment.ProcessId);
    }

    /// <summary>Removes the file name (the creator does this once the peer has mapped it; mappings stay valid). Idempotent.</summary>
    public void Unlink()
    {
        var path = Interlocked.Exchange(ref _pathToUnlink, null);
        if (path is not null)
        {
            _ = LibC.Unlink(path);
        }
    }

    /// <summary>Unlinks (when still named and ours) and unmaps. Only call once no thread touches the rings.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Unlink();
        _mapping.Dispose();
    }

    /// <summary>
    /// Removes the segments of <paramref name="prefix"/> in <paramref name="directory"/> whose creator has died: regular
    /// files of ours only; a segment whose creator still runs, or whose owner we cannot confirm, is left alone.
    /// </summary>
    public static void ReclaimStale(string directory, string prefix)
    {
        string[] candidates;
        try
        {
            candidates = System.IO.Directory.GetFiles(directory, prefix + "*");
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }

        var owner = LibC.GetEffectiveUserId();
        foreach (var path in candidates)
        {
            var suffix = System.IO.Path.GetFileName(path)[prefix.Length..];
            var dash = suffix.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(suffix.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (LibC.Statx(LibC.AtFdCwd, path, LibC.AtSymlinkNoFollow, LibC.StatxWanted, out var status) != 0
                || !LibC.IsRegularFile(status)
                || status.Uid != owner)
            {
                continue;
            }

            if (!ProcessIdentity.IsAlive(pid, ReadCreatorStartTime(path)))
            {
                _ = LibC.Unlink(path);
            }
        }
    }

    private static ulong ReadCreatorStartTime(string path)
    {
        var fd = LibC.Open(path, LibC.ONoFollow | LibC.OCloExec, 0);
        if (fd < 0)
        {
            return 0;
        }

        try
        {
            using var handle = new SafeFileHandle(fd, ownsHandle: false);
            Span<byte> header = stackalloc byte[CreatorStartOffset + sizeof(ulong)];
            if (RandomAccess.Read(handle, header, 0) != header.Length || MemoryMarshal.Read<ulong>(header) != Magic)
            {
                return 0;
            }

            return MemoryMarshal.Read<ulong>(header[CreatorStartOffset..]);
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    /// <summary>Maps <paramref name="fd"/>, taking ownership of it: on failure it is closed (and a created file unlinked) here.</summary>
    private static SharedMemorySegment Map(int fd, string path, int ringBytes, bool created)
    {
        try
        {
            return new SharedMemorySegment(MappedFile.Map(fd, TotalSize(ringBytes)), path, ringBytes, created);
        }
        catch
        {
            if (created)
            {
                _ = LibC.Unlink(path);
            }

            throw;
        }
    }

    private void InitializeHeader()
    {
        *(int*)(_base + VersionOffset) = Version;
        *(int*)(_base + RingBytesOffset) = RingBytes;
        *(int*)(_base + CreatorPidOffset) = Environment.ProcessId;
        *(ulong*)(_base + CreatorStartOffset) = ProcessIdentity.CurrentStartTime;

        // Last, with release semantics: a reader that sees the magic sees the fields before it.
        Volatile.Write(ref *(ulong*)(_base + MagicOffset), Magic);
    }

    private void CheckHeader()
    {
        if (Volatile.Read(ref *(ulong*)(_base + MagicOffset)) != Magic
            || *(int*)(_base + VersionOffset) != Version
            || *(int*)(_base + RingBytesOffset) != RingBytes)
        {
            throw new IOException($"'{Path}' is not an Rpc shared-memory segment of this version and size.");
        }
    }
}
