using System.ComponentModel;
using MessagePack;

namespace Rpc.Runtime;

/// <summary>
/// The arguments of one contract method as a generated <see langword="struct"/>, so the proxy hands them to the invoker
/// without boxing and the stub reads them without an <c>object[]</c>.
/// </summary>
/// <typeparam name="TSelf">The generated struct itself.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IRpcArguments<TSelf>
    where TSelf : struct, IRpcArguments<TSelf>
{
    /// <summary>Writes the arguments as a MessagePack array in parameter order.</summary>
    /// <param name="writer">The destination.</param>
    void Write(ref MessagePackWriter writer);

    /// <summary>Reads the arguments written by <see cref="Write"/>; missing trailing arguments take their defaults.</summary>
    /// <param name="reader">The source.</param>
    /// <returns>The arguments.</returns>
    static abstract TSelf Read(ref MessagePackReader reader);

    /// <summary>Boxes the arguments in parameter order for the JSON-RPC protocol, which is not on the fast path.</summary>
    /// <returns>The arguments, positionally.</returns>
    object?[] ToPositionalArray();
}
