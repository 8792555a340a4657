using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace Calculator;

/// <summary>Serves <see cref="ICalculator"/> with the container's <see cref="CalculatorService"/> and logs each division.</summary>
internal sealed partial class AuditedCalculator(CalculatorService calculator, ILogger<AuditedCalculator> logger) : ICalculator
{
    public Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default) => calculator.AddAsync(a, b, cancellationToken);

    public Task<double> DivideAsync(double dividend, double divisor)
    {
        LogDivision(logger, dividend, divisor);
        return calculator.DivideAsync(dividend, divisor);
    }

    public IAsyncEnumerable<long> FibonacciAsync(int count, int delayMilliseconds, CancellationToken cancellationToken = default) =>
        calculator.FibonacciAsync(count, delayMilliseconds, cancellationToken);

    public Task<Statistics> SummarizeAsync(IReadOnlyList<double> values) => calculator.SummarizeAsync(values);

    public Task<long> SlowSquareAsync(int value, int delayMilliseconds, CancellationToken cancellationToken = default) =>
        calculator.SlowSquareAsync(value, delayMilliseconds, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dividing {Dividend} by {Divisor}")]
    private static partial void LogDivision(ILogger logger, double dividend, double divisor);
}
