namespace Rpc.Protocols.Binary;

/// <summary>
/// The kinds of binary-protocol frame. Each side first sends a <see cref="ProtocolHello"/>, then frames. A frame is <c>[u32 length, little-endian][u8 kind][u32 id]</c>, then, for the
/// three request kinds, <c>[u32 method id]</c>, then the MessagePack payload; the length counts everything after itself.
/// </summary>
internal enum FrameKind : byte
{
    /// <summary>A call expecting a reply. Payload: the arguments array.</summary>
    Request = 1,

    /// <summary>A one-way call. Id is 0. Payload: the arguments array.</summary>
    Notification = 2,

    /// <summary>A call answered by a stream. Payload: the arguments array.</summary>
    StreamRequest = 3,

    /// <summary>The reply to a request. Payload: the result (nil for no value).</summary>
    Response = 4,

    /// <summary>An error reply to a request or stream. Payload: <c>[code, type name, message, stack trace or nil]</c>.</summary>
    Error = 5,

    /// <summary>The caller gave up on a request or stream. No payload.</summary>
    Cancel = 6,

    /// <summary>One item of a stream. Payload: the item.</summary>
    StreamItem = 7,

    /// <summary>The end of a stream. No payload.</summary>
    StreamEnd = 8,

    /// <summary>The caller has room for more stream items. Payload: the number of items, as a MessagePack integer.</summary>
    StreamCredit = 9,

    /// <summary>A keepalive probe; the peer answers at once with a <see cref="Pong"/> of the same id. Id: a sequence number. No payload.</summary>
    Ping = 10,

    /// <summary>The answer to a <see cref="Ping"/>, with its id. No payload.</summary>
    Pong = 11,

    /// <summary>
    /// A flag on the three request kinds: a <see cref="RequestHeader"/> follows the method id. A request without one is
    /// the same bytes as before headers existed.
    /// </summary>
    HasHeader = 0x80,
}

/// <summary>Sizes of the fixed frame header.</summary>
internal static class FrameHeader
{
    /// <summary>The length prefix.</summary>
    public const int LengthSize = 4;

    /// <summary>Length prefix, kind and id.</summary>
    public const int Size = LengthSize + 1 + 4;

    /// <summary>Header plus the method id of request kinds.</summary>
    public const int RequestSize = Size + 4;

    /// <summary>The smallest length a frame can announce (kind and id).</summary>
    public const int MinimumLength = 1 + 4;

    public static bool HasMethodId(FrameKind kind) => kind is FrameKind.Request or FrameKind.Notification or FrameKind.StreamRequest;
}
