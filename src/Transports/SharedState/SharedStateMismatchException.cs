using System.IO;

namespace Rpc.SharedState;

/// <summary>
/// A shared array or value was opened with an element type or length other than the one it was created with. The message
/// names both sides; nothing was mapped.
/// </summary>
public sealed class SharedStateMismatchException : IOException
{
    /// <summary>Initializes a new instance of the <see cref="SharedStateMismatchException"/> class.</summary>
    /// <param name="name">The shared array's name.</param>
    /// <param name="expected">What the opener asked for, for example <c>System.Int64 (8 bytes)</c>.</param>
    /// <param name="actual">What the segment holds.</param>
    /// <param name="message">The whole explanation.</param>
    public SharedStateMismatchException(string name, string expected, string actual, string message)
        : base(message)
    {
        Name = name;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>Gets the shared array's name.</summary>
    public string Name { get; }

    /// <summary>Gets what the opener asked for (element type and size, or length).</summary>
    public string Expected { get; }

    /// <summary>Gets what the segment holds.</summary>
    public string Actual { get; }
}
