using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>Same wire name as <see cref="ITestService.AddAsync"/>, other parameter types: the server cannot read the arguments.</summary>
[RpcContract]
public interface IWrongArguments
{
    [RpcMethod("Add")]
    Task<int> AddAsync(string a, string b);
}

/// <summary>Same wire name as a request method, called as a stream.</summary>
[RpcContract]
public interface IWrongKind
{
    [RpcMethod("Add")]
    System.Collections.Generic.IAsyncEnumerable<int> AddAsync(int a, int b);
}
