using System;
using System.IO;
using System.Runtime.CompilerServices;
using MessagePack;
using Rpc.SharedState;

namespace Rpc.Serialization;

/// <summary>
/// Writes a <see cref="SharedArray{T}"/> as a handle, not its elements: the receiver opens the same memory by name and
/// reads and writes it in place.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>
/// The handle is a MessagePack array <c>[name, element size, element type identity, length, boot id, start, count]</c>
/// (start and count: the range a <see cref="SharedArraySlice{T}"/> passes; the whole array here). The boot id
/// (<c>/proc/sys/kernel/random/boot_id</c>) tells the receiver whether the memory can exist on its machine: a handle
/// from another machine, or from before a reboot, fails with <see cref="SharedHandleFromOtherMachineException"/>, never a
/// silent copy. Element size and type identity are checked before the segment is opened
/// (<see cref="SharedStateMismatchException"/>), then <see cref="SharedArray{T}.Open(string, int)"/> checks the segment
/// itself (owner, mode, type, length).
/// </para>
/// <para>
/// Ownership: writing leaves the sender's handle open and the sender's (the memory must outlive the call, so the caller
/// keeps it until the call completes; a returned array must stay open on the server until the client has it). Reading
/// opens a new handle that belongs to the receiver, who must dispose it (or keep it); the memory lives while any handle,
/// in any process, is open.
/// </para>
/// </remarks>
public sealed class SharedArrayFormatter<T> : RpcFormatter<SharedArray<T>?>
    where T : unmanaged
{
    private const int FieldCount = 7;

    private SharedArrayFormatter()
    {
    }

    /// <summary>Gets the formatter.</summary>
    public static SharedArrayFormatter<T> Instance { get; } = new();

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The handle was disposed before the call was sent.</exception>
    public override void Write(ref MessagePackWriter writer, SharedArray<T>? value)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        WriteHandle(ref writer, value, 0, value.Length);
    }

    /// <inheritdoc />
    /// <exception cref="SharedHandleFromOtherMachineException">The handle comes from another machine or boot.</exception>
    /// <exception cref="SharedStateMismatchException">The handle's element type or length is not this one's.</exception>
    /// <exception cref="FileNotFoundException">No shared array of that name exists (any more) on this machine.</exception>
    public override SharedArray<T>? Read(ref MessagePackReader reader) =>
        reader.TryReadNil() ? null : ReadHandle(ref reader, out _, out _);

    /// <summary>Writes the handle of <paramref name="array"/> and the range <paramref name="start"/>, <paramref name="count"/>.</summary>
    internal static void WriteHandle(ref MessagePackWriter writer, SharedArray<T> array, int start, int count)
    {
        ObjectDisposedException.ThrowIf(array.IsDisposed, array);
        writer.WriteArrayHeader(FieldCount);
        writer.Write(array.Name);
        writer.Write(Unsafe.SizeOf<T>());
        writer.Write(SharedArray<T>.ElementTypeIdentity);
        writer.Write(array.Length);
        writer.Write(MachineIdentity.BootId);
        writer.Write(start);
        writer.Write(count);
    }

    /// <summary>Reads a handle (not nil), checks it and opens the array; <paramref name="start"/> and <paramref name="count"/> are inside it.</summary>
    internal static SharedArray<T> ReadHandle(ref MessagePackReader reader, out int start, out int count)
    {
        UntrustedData.EnterNested(ref reader);
        var fields = UntrustedData.ReadArrayHeader(ref reader);
        if (fields < FieldCount)
        {
            throw new MessagePackSerializationException($"A shared array handle has {fields} fields; {FieldCount} expected.");
        }

        var name = reader.ReadString() ?? throw new MessagePackSerializationException("A shared array handle has no name.");
        var elementSize = reader.ReadInt32();
        var typeIdentity = reader.ReadUInt64();
        var length = reader.ReadInt32();
        var bootId = reader.ReadBytes() ?? throw new MessagePackSerializationException("A shared array handle has no boot id.");
        start = reader.ReadInt32();
        count = reader.ReadInt32();
        for (var i = FieldCount; i < fields; i++)
        {
            reader.Skip();
        }

        UntrustedData.ExitNested(ref reader);

        if (!MachineIdentity.IsThisBoot(bootId))
        {
            throw new SharedHandleFromOtherMachineException(
                name,
                $"The shared array handle '{name}' comes from another machine (or from before this machine rebooted): shared memory cannot cross machines. Send the data itself to a remote peer.");
        }

        if (elementSize != Unsafe.SizeOf<T>() || typeIdentity != SharedArray<T>.ElementTypeIdentity)
        {
            var expected = $"{typeof(T)} ({Unsafe.SizeOf<T>()} bytes)";
            var actual = $"another element type of {elementSize} bytes";
            throw new SharedStateMismatchException(name, expected, actual, $"The shared array handle '{name}' holds {actual}; it was received as SharedArray<{typeof(T)}>.");
        }

        if (length <= 0 || (uint)start > (uint)length || (uint)count > (uint)(length - start))
        {
            throw new MessagePackSerializationException($"The shared array handle '{name}' announces the range [{start}, {start}+{count}) of {length} elements.");
        }

        return SharedArray<T>.Open(name, length);
    }
}

/// <summary>Writes a <see cref="SharedArraySlice{T}"/> as a handle and a range; see <see cref="SharedArrayFormatter{T}"/>.</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>A <c>default</c> slice is written as nil and read back as <c>default</c>.</remarks>
public sealed class SharedArraySliceFormatter<T> : RpcFormatter<SharedArraySlice<T>>
    where T : unmanaged
{
    private SharedArraySliceFormatter()
    {
    }

    /// <summary>Gets the formatter.</summary>
    public static SharedArraySliceFormatter<T> Instance { get; } = new();

    /// <inheritdoc />
    public override void Write(ref MessagePackWriter writer, SharedArraySlice<T> value)
    {
        if (value.Array is null)
        {
            writer.WriteNil();
            return;
        }

        SharedArrayFormatter<T>.WriteHandle(ref writer, value.Array, value.Start, value.Length);
    }

    /// <inheritdoc />
    public override SharedArraySlice<T> Read(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return default;
        }

        var array = SharedArrayFormatter<T>.ReadHandle(ref reader, out var start, out var count);
        return new SharedArraySlice<T>(array, start, count);
    }
}
