using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Rpc;

namespace Calculator;

/// <summary>The sample contract: a calculator served in one process and called from another.</summary>
[RpcContract]
public interface ICalculator
{
    /// <summary>Adds two numbers.</summary>
    Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);

    /// <summary>Divides; a zero divisor throws <see cref="System.DivideByZeroException"/> on the server.</summary>
    Task<double> DivideAsync(double dividend, double divisor);

    /// <summary>Streams the first <paramref name="count"/> Fibonacci numbers, one every <paramref name="delayMilliseconds"/>.</summary>
    IAsyncEnumerable<long> FibonacciAsync(int count, int delayMilliseconds, CancellationToken cancellationToken = default);

    /// <summary>Summarizes a series of values.</summary>
    Task<Statistics> SummarizeAsync(IReadOnlyList<double> values);

    /// <summary>Squares a number slowly, to have something to cancel.</summary>
    Task<long> SlowSquareAsync(int value, int delayMilliseconds, CancellationToken cancellationToken = default);
}

/// <summary>A user record: the generator writes its serializer, so it crosses the wire as is.</summary>
public sealed record Statistics(int Count, double Mean, double Min, double Max);
