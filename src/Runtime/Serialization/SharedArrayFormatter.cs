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
/// The handle is a MessagePack array <c>[name, element size, element type identity, length, boot id]</c>. The boot id
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
    private const int FieldCount = 5;

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

        ObjectDisposedException.ThrowIf(value.Segment.IsDisposed, value);
        writer.WriteArrayHeader(FieldCount);
        writer.Write(value.Name);
        writer.Write(Unsafe.SizeOf<T>());
        writer.Write(SharedArray<T>.TypeIdentity);
        writer.Write(value.Length);
        writer.Write(MachineIdentity.BootId);
    }

    /// <inheritdoc />
    /// <exception cref="SharedHandleFromOtherMachineException">The handle comes from another machine or boot.</exception>
    /// <exception cref="SharedStateMismatchException">The handle's element type or length is not this one's.</exception>
    /// <exception cref="FileNotFoundException">No shared array of that name exists (any more) on this machine.</exception>
    public override SharedArray<T>? Read(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        UntrustedData.EnterNested(ref reader);
        var count = UntrustedData.ReadArrayHeader(ref reader);
        if (count < FieldCount)
        {
            throw new MessagePackSerializationException($"A shared array handle has {count} fields; {FieldCount} expected.");
        }

        var name = reader.ReadString() ?? throw new MessagePackSerializationException("A shared array handle has no name.");
        var elementSize = reader.ReadInt32();
        var typeIdentity = reader.ReadUInt64();
        var length = reader.ReadInt32();
        var bootId = reader.ReadBytes() ?? throw new MessagePackSerializationException("A shared array handle has no boot id.");
        for (var i = FieldCount; i < count; i++)
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

        if (elementSize != Unsafe.SizeOf<T>() || typeIdentity != SharedArray<T>.TypeIdentity)
        {
            var expected = $"{SharedArray<T>.TypeName} ({Unsafe.SizeOf<T>()} bytes)";
            var actual = $"another element type of {elementSize} bytes";
            throw new SharedStateMismatchException(name, expected, actual, $"The shared array handle '{name}' holds {actual}; it was received as SharedArray<{SharedArray<T>.TypeName}>.");
        }

        if (length <= 0)
        {
            throw new MessagePackSerializationException($"The shared array handle '{name}' announces {length} elements.");
        }

        return SharedArray<T>.Open(name, length);
    }
}
