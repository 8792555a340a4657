using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Generator.Tests.RoundTrip;

// Compiled by the generator during this project's own build (it is referenced as an analyzer), with the repo's
// nullable, warnings-as-errors and latest-recommended analyzer settings: the build itself proves the output is clean.

public enum Shade : short
{
    Dark = -3,
    Light = 7,
}

public sealed record Point(int X, int Y)
{
    public string? Tag { get; init; }
}

public sealed class Tree
{
    public required string Name { get; init; }

    public List<Tree> Children { get; set; } = [];

    public Tree? Parent { get; set; }

    public int Count => Children.Count;
}

public struct Sample
{
    public double Value { get; set; }

    public DateTimeOffset At { get; set; }
}

public readonly record struct Pair(string Key, Shade Shade);

[RpcContract]
public interface IShapes
{
    Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);

    ValueTask<double> DivideAsync(double a, double b);

    Task ResetAsync();

    void Log(string message);

    IAsyncEnumerable<int> CountAsync(int to, CancellationToken cancellationToken = default);

    [RpcMethod("sum")]
    Task<long> SumAsync(List<Point> points, string? label);

    Task<Point> EchoAsync(Point point);

    ValueTask<Point?> MaybeAsync(Point? point);

    Task<Tree> TreeAsync(Tree root);

    Task<Dictionary<string, Pair>> IndexAsync(IReadOnlyList<Pair> pairs, HashSet<Shade> shades, Shade? preferred);

    Task<Sample[]> SamplesAsync(Sample[] samples, int? limit, Guid id, TimeSpan window, decimal price, byte[] blob, ReadOnlyMemory<byte> memory);

    Task<int> KeywordsAsync(int @class, string @event, int reader, int count);
}

[RpcContract]
public interface IBaseService
{
    Task<string> WhoAsync();
}

[RpcContract]
public interface IDerivedService : IBaseService
{
    [RpcMethod("who2")]
    new Task<string> WhoAsync();
}

internal sealed class Shapes : IShapes
{
    public List<string> Logged { get; } = [];

    public int Resets { get; private set; }

    public Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default) => Task.FromResult(a + b);

    public ValueTask<double> DivideAsync(double a, double b) => new(a / b);

    public Task ResetAsync()
    {
        Resets++;
        return Task.CompletedTask;
    }

    public void Log(string message) => Logged.Add(message);

    public async IAsyncEnumerable<int> CountAsync(int to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 1; i <= to; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return i;
        }
    }

    public Task<long> SumAsync(List<Point> points, string? label)
    {
        long sum = 0;
        foreach (var point in points)
        {
            sum += point.X + point.Y;
        }

        return Task.FromResult(label is null ? sum : -sum);
    }

    public Task<Point> EchoAsync(Point point) => Task.FromResult(point with { Tag = point.Tag + "!" });

    public ValueTask<Point?> MaybeAsync(Point? point) => new(point);

    public Task<Tree> TreeAsync(Tree root)
    {
        var copy = new Tree { Name = root.Name + "'", Children = root.Children };
        return Task.FromResult(copy);
    }

    public Task<Dictionary<string, Pair>> IndexAsync(IReadOnlyList<Pair> pairs, HashSet<Shade> shades, Shade? preferred)
    {
        var result = new Dictionary<string, Pair>();
        foreach (var pair in pairs)
        {
            if (shades.Contains(pair.Shade) || pair.Shade == preferred)
            {
                result[pair.Key] = pair;
            }
        }

        return Task.FromResult(result);
    }

    public Task<Sample[]> SamplesAsync(Sample[] samples, int? limit, Guid id, TimeSpan window, decimal price, byte[] blob, ReadOnlyMemory<byte> memory)
    {
        var take = Math.Min(limit ?? samples.Length, samples.Length);
        var result = new Sample[take + 1];
        Array.Copy(samples, result, take);
        result[take] = new Sample { Value = (double)price + blob.Length + memory.Length + window.TotalSeconds, At = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)) };
        return Task.FromResult(result);
    }

    public Task<int> KeywordsAsync(int @class, string @event, int reader, int count) => Task.FromResult(@class + @event.Length + reader + count);
}

internal sealed class Derived : IDerivedService
{
    Task<string> IBaseService.WhoAsync() => Task.FromResult("base");

    public Task<string> WhoAsync() => Task.FromResult("derived");
}
