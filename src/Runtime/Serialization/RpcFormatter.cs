using System.ComponentModel;
using MessagePack;
using Rpc.Diagnostics;

namespace Rpc.Serialization;

/// <summary>
/// Writes and reads one type as MessagePack. The generator composes these for every parameter and result type of a
/// contract (built-in formatters for primitives and collections, generated ones for user records and classes), so
/// serialization is typed end to end: no resolver lookups, no reflection, nothing emitted at run time.
/// </summary>
/// <typeparam name="T">The type.</typeparam>
public abstract class RpcFormatter<T> : RpcResultReader
{
    /// <summary>Writes <paramref name="value"/>.</summary>
    /// <param name="writer">The destination.</param>
    /// <param name="value">The value; may be <see langword="null"/> for reference types (written as nil).</param>
    public abstract void Write(ref MessagePackWriter writer, T value);

    /// <summary>Reads a value written by <see cref="Write"/>.</summary>
    /// <param name="reader">The source; untrusted input, so implementations check lengths and nesting.</param>
    /// <returns>The value.</returns>
    public abstract T Read(ref MessagePackReader reader);

    internal sealed override void Deliver(IPendingReply pending, ref MessagePackReader reader) =>
        ((IPendingReply<T>)pending).Deliver(Read(ref reader));

    internal sealed override IPendingReply Observe(IPendingReply pending, CallObservation observation, bool isStream) =>
        new ObservedReply<T>((IPendingReply<T>)pending, observation, isStream);
}

/// <summary>
/// The untyped face of <see cref="RpcFormatter{T}"/> that lets the receive loop complete a pending call of any result
/// type without knowing it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class RpcResultReader
{
    private protected RpcResultReader()
    {
    }

    internal abstract void Deliver(IPendingReply pending, ref MessagePackReader reader);

    /// <summary>Wraps a pending call of this result type so its end is recorded on <paramref name="observation"/>.</summary>
    internal abstract IPendingReply Observe(IPendingReply pending, CallObservation observation, bool isStream);
}
