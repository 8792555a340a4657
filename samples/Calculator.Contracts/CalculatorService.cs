using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Calculator;

/// <summary>The implementation the sample server serves.</summary>
public sealed class CalculatorService : ICalculator
{
    /// <inheritdoc />
    public Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default) => Task.FromResult(a + b);

    /// <inheritdoc />
    public Task<double> DivideAsync(double dividend, double divisor) =>
        divisor == 0 ? throw new DivideByZeroException($"Cannot divide {dividend} by zero.") : Task.FromResult(dividend / divisor);

    /// <inheritdoc />
    public async IAsyncEnumerable<long> FibonacciAsync(int count, int delayMilliseconds, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long previous = 0, current = 1;
        for (var i = 0; i < count; i++)
        {
            if (delayMilliseconds > 0)
            {
                await Task.Delay(delayMilliseconds, cancellationToken).ConfigureAwait(false);
            }

            yield return previous;
            (previous, current) = (current, previous + current);
        }
    }

    /// <inheritdoc />
    public Task<Statistics> SummarizeAsync(IReadOnlyList<double> values) =>
        Task.FromResult(values.Count == 0
            ? new Statistics(0, 0, 0, 0)
            : new Statistics(values.Count, values.Average(), values.Min(), values.Max()));

    /// <inheritdoc />
    public async Task<long> SlowSquareAsync(int value, int delayMilliseconds, CancellationToken cancellationToken = default)
    {
        await Task.Delay(delayMilliseconds, cancellationToken).ConfigureAwait(false);
        return (long)value * value;
    }
}
