using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using Rpc.Transports.Internal.SharedMemory;

namespace Rpc.Fuzzing;

/// <summary>
/// Target <c>shm-ring</c>: a hostile peer owns the shared memory of a ring (<see cref="SpscRing"/>): its control block
/// (head, tail, states) and its bytes. The input is a script that interleaves the peer's stores with our side's calls,
/// as the consumer of one ring and the producer of another over the same memory.
/// </summary>
/// <remarks>
/// <para>
/// Input: byte 0 picks the capacity (4, 8 or 16 KiB); then operations, each an opcode byte and its operands (little
/// endian): 0 peer stores Head (u64); 1 peer stores Tail (u64); 2 peer stores ProducerState (i32); 3 peer stores
/// ConsumerState (i32); 4 peer writes data (u16 offset, u8 length, bytes); 5 we Read (u16 length); 6 we Write (u16
/// length, u8 publish); 7 we ask Available and HasSpace; 8 we open a fresh pair of rings over the memory as it is now
/// (as a new connection would, with the peer's head and tail as starting positions, or refusing them). An operation cut short ends the script.
/// </para>
/// <para>
/// Oracle: every call returns or throws <see cref="IOException"/> (a corrupt ring); a read returns at most what was asked
/// and at most the capacity, a write at most what was given; nothing is read or written outside the control block and the
/// data: both sit against inaccessible guard pages (see <see cref="GuardedMemory"/>), so a stray access faults.
/// </para>
/// </remarks>
internal static unsafe class ShmRingTarget
{
    private const int ControlSize = 256;
    private const int PageSize = 4096;

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var capacity = 4096 << (input[0] % 3);
        using var control = new GuardedMemory(PageSize);
        using var data = new GuardedMemory(capacity);

        // The control block ends where its guard page begins; the data fills its whole block.
        var controlBlock = control.End - ControlSize;
        var consumer = new SpscRing(controlBlock, data.Start, capacity);
        var producer = new SpscRing(controlBlock, data.Start, capacity);
        var scratch = new byte[ushort.MaxValue];
        var script = new Script(input, 1);
        while (script.TryReadByte(out var opcode))
        {
            switch (opcode % 9)
            {
                case 0 when script.TryReadUInt64(out var head):
                    *(ulong*)controlBlock = head;
                    break;
                case 1 when script.TryReadUInt64(out var tail):
                    *(ulong*)(controlBlock + 128) = tail;
                    break;
                case 2 when script.TryReadUInt32(out var state):
                    *(uint*)(controlBlock + 12) = state;
                    break;
                case 3 when script.TryReadUInt32(out var state):
                    *(uint*)(controlBlock + 140) = state;
                    break;
                case 4 when script.TryReadUInt16(out var offset) && script.TryReadByte(out var length) && script.TryReadBytes(length, out var bytes):
                    var start = offset % capacity;
                    bytes[..Math.Min(bytes.Length, capacity - start)].CopyTo(new Span<byte>(data.Start + start, capacity - start));
                    break;
                case 5 when script.TryReadUInt16(out var length):
                    Check(() => CheckRead(consumer.Read(scratch.AsSpan(0, length)), length, capacity));
                    break;
                case 6 when script.TryReadUInt16(out var length) && script.TryReadByte(out var publish):
                    Check(() => CheckWrite(producer.Write(scratch.AsSpan(0, length), publish % 2 == 0), length));
                    break;
                case 7:
                    Check(() => CheckAvailable(consumer.Available(), capacity));
                    Check(() => producer.HasSpace());
                    break;
                case 8:
                    try
                    {
                        consumer = new SpscRing(controlBlock, data.Start, capacity);
                        producer = new SpscRing(controlBlock, data.Start, capacity);
                    }
                    catch (IOException)
                    {
                        return; // The positions are inconsistent: the connection is refused before it starts.
                    }

                    break;
                default:
                    return;
            }
        }
    }

    /// <summary>A valid ring's life: the peer publishes, we read it across the wrap; we write, the peer consumes.</summary>
    public static List<(string Name, byte[] Bytes)> Seeds()
    {
        var wrap = new List<byte> { 0 };
        Store(wrap, 1, 4000UL);
        Store(wrap, 0, 4000UL);
        wrap.AddRange([4, 0xA0, 0x0F, 200, .. new byte[200]]);
        wrap.AddRange([4, 0x00, 0x00, 100, .. new byte[100]]);
        Store(wrap, 0, 4200UL);
        wrap.AddRange([5, 0x00, 0x01, 7]);
        wrap.AddRange([6, 0x00, 0x20, 0, 1]);
        Store(wrap, 1, 8296UL);
        wrap.AddRange([6, 0x00, 0x01, 0, 7, 8]);

        var closed = new List<byte> { 1 };
        Store(closed, 0, 16UL);
        closed.AddRange([2, 1, 0, 0, 0, 5, 0x10, 0x00, 7, 2, 2, 0, 0, 0, 3, 1, 0, 0, 0, 7]);
        return [("wrap-around", [.. wrap]), ("close-abort", [.. closed])];
    }

    private static void Store(List<byte> script, byte opcode, ulong position)
    {
        script.Add(opcode);
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, position);
        script.AddRange(bytes);
    }

    private static void Check(Action call)
    {
        try
        {
            call();
        }
        catch (IOException)
        {
            // The ring said the peer corrupted it: the typed error the connection turns into a reset.
        }
    }

    private static void CheckRead(int count, int asked, int capacity)
    {
        if (count < 0 || count > asked || count > capacity)
        {
            throw new OracleViolationException($"Read returned {count} for a {asked}-byte buffer on a {capacity}-byte ring.");
        }
    }

    private static void CheckWrite(int count, int given)
    {
        if (count < 0 || count > given)
        {
            throw new OracleViolationException($"Write returned {count} for {given} bytes.");
        }
    }

    private static void CheckAvailable(long available, int capacity)
    {
        if (available < 0 || available > capacity)
        {
            throw new OracleViolationException($"Available returned {available} on a {capacity}-byte ring.");
        }
    }
}
