using System.IO.Pipelines;

namespace Rpc.Fuzzing;

/// <summary>One end of an in-memory connection: what the peer sent, and where our bytes go.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
