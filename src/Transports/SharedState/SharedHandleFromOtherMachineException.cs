using System.IO;

namespace Rpc.SharedState;

/// <summary>
/// A shared array handle arrived in a call from another machine (or from before a reboot): shared memory exists only on
/// the machine that created it, so the handle cannot be opened. Nothing was mapped and nothing was copied; send the data
/// itself (for example as an <c>RpcBuffer</c>) to a peer on another machine.
/// </summary>
public sealed class SharedHandleFromOtherMachineException : IOException
{
    /// <summary>Initializes a new instance of the <see cref="SharedHandleFromOtherMachineException"/> class.</summary>
    /// <param name="name">The shared array's name.</param>
    /// <param name="message">The whole explanation.</param>
    public SharedHandleFromOtherMachineException(string name, string message)
        : base(message)
    {
        Name = name;
    }

    /// <summary>Gets the name of the shared array the handle refers to.</summary>
    public string Name { get; }
}
