using System.Threading;
using System.Threading.Tasks;
using Rpc;

namespace WorkQueueSample;

/// <summary>The jobs the workers run. Thumbnails are safe to redo; charging a card is not.</summary>
[RpcContract]
public interface IJobQueue
{
    /// <summary>Idempotent: if its worker dies, the hub runs it again on another worker.</summary>
    [RpcIdempotent]
    Task<JobReceipt> MakeThumbnailAsync(int job, CancellationToken cancellationToken = default);

    /// <summary>Not idempotent: if its worker dies, the producer is told it may or may not have run.</summary>
    Task<JobReceipt> ChargeCardAsync(int job, CancellationToken cancellationToken = default);
}

/// <summary>Which worker process ran a job.</summary>
public sealed record JobReceipt(int Job, int WorkerPid);
