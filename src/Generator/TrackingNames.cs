namespace Rpc.Generator;

/// <summary>Names of the pipeline steps, so tests can check that an unrelated edit leaves them cached.</summary>
internal static class TrackingNames
{
    public const string Contracts = "RpcContracts";
}
