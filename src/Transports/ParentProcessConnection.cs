namespace Rpc.Transports;

/// <summary>A child's connection to its parent, from <see cref="ChildProcessTransport.ConnectToParent"/>.</summary>
public sealed class ParentProcessConnection
{
    internal ParentProcessConnection(TransportConnection connection, int parentProcessId, bool killedWithParent)
    {
        Connection = connection;
        ParentProcessId = parentProcessId;
        KilledWithParent = killedWithParent;
    }

    /// <summary>Gets the connection; its input ends when the parent closes its side or dies.</summary>
    public TransportConnection Connection { get; }

    /// <summary>Gets the parent's process id as the parent recorded it, or 0 when it did not.</summary>
    public int ParentProcessId { get; }

    /// <summary>
    /// Gets whether the kernel will SIGKILL this process when the parent dies (<c>PR_SET_PDEATHSIG</c>). It is
    /// <see langword="false"/> when the parent is not (any more) <see cref="ParentProcessId"/>: it died already, or a
    /// wrapper process sits in between; watching <see cref="ChildProcessTransport.CurrentParentProcessId"/> is then pointless.
    /// </summary>
    public bool KilledWithParent { get; }
}
