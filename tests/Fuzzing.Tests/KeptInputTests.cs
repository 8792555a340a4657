using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Rpc.Fuzzing.Tests;

/// <summary>
/// Every input the fuzzers kept (the minimized corpus, and each input that once crashed or hung a decoder) still meets
/// its target's oracle: a typed error or success, within <see cref="FuzzTargets.InputTimeout"/>.
/// </summary>
public sealed class KeptInputTests
{
    private static readonly string[] Folders = ["Corpus", "Crashes"];

    public static TheoryData<string, string> KeptInputs()
    {
        var inputs = new TheoryData<string, string>();
        foreach (var (target, file) in Files())
        {
            inputs.Add(target, file);
        }

        return inputs;
    }

    [Theory]
    [MemberData(nameof(KeptInputs))]
    public void Kept_input_meets_the_oracle(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file));

        var violation = Record.Exception(() => FuzzTargets.Run(target, input));

        Assert.Null(violation);
    }

    [Fact]
    public void Every_target_has_a_corpus()
    {
        var withCorpus = Files().Where(input => input.File.StartsWith("Corpus", StringComparison.Ordinal)).Select(input => input.Target).ToHashSet();

        Assert.All(FuzzTargets.Names, target => Assert.Contains(target, withCorpus));
    }

    /// <summary>Each kept input as (target, path relative to the test's output folder): <c>Folder/target/file</c>.</summary>
    private static IEnumerable<(string Target, string File)> Files()
    {
        foreach (var folder in Folders)
        {
            var root = Path.Combine(AppContext.BaseDirectory, folder);
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var targetFolder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                var target = Path.GetFileName(targetFolder);
                foreach (var file in Directory.GetFiles(targetFolder).Order(StringComparer.Ordinal))
                {
                    yield return (target, Path.GetRelativePath(AppContext.BaseDirectory, file));
                }
            }
        }
    }
}
