using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Rpc.Generator.Tests.Infrastructure;

/// <summary>
/// Compares generated files with the committed <c>Baselines/&lt;Test&gt;/&lt;HintName&gt;.txt</c> files: first the set of
/// files, then each file line by line. <c>RPC_UPDATE_BASELINES=1</c> rewrites the baselines and still fails, so a run
/// in update mode can never pass CI.
/// </summary>
internal static partial class Baseline
{
    private const string UpdateVariable = "RPC_UPDATE_BASELINES";

    public static void Verify(IReadOnlyDictionary<string, string> generated, [CallerMemberName] string testName = "", [CallerFilePath] string callerPath = "")
    {
        var directory = Path.Combine(Path.GetDirectoryName(callerPath)!, "Baselines", testName);
        var actual = generated.ToDictionary(p => p.Key + ".txt", p => Scrub(p.Value), StringComparer.Ordinal);

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            Directory.CreateDirectory(directory);
            foreach (var (name, text) in actual)
            {
                File.WriteAllText(Path.Combine(directory, name), text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            }

            throw new XunitException($"{UpdateVariable}=1: baselines of {testName} were rewritten in {directory}; review them, then run again without it.");
        }

        var expected = Directory.Exists(directory)
            ? Directory.GetFiles(directory).ToDictionary(p => Path.GetFileName(p), p => File.ReadAllText(p).Replace("\r\n", "\n", StringComparison.Ordinal), StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);

        var missing = expected.Keys.Except(actual.Keys).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var extra = actual.Keys.Except(expected.Keys).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || extra.Count > 0)
        {
            throw new XunitException(
                $"The generated files of {testName} differ from the baselines in {directory}.\n" +
                $"  not generated any more: {string.Join(", ", missing)}\n" +
                $"  generated but not in the baselines: {string.Join(", ", extra)}\n" +
                $"Run with {UpdateVariable}=1 to rewrite the baselines.");
        }

        foreach (var (name, text) in actual.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!string.Equals(expected[name], text, StringComparison.Ordinal))
            {
                throw new XunitException($"{name} differs from its baseline (- baseline, + generated):\n{Diff(expected[name], text)}\nRun with {UpdateVariable}=1 to rewrite the baselines.");
            }
        }
    }

    /// <summary>Replaces the generator version so baselines survive a version bump.</summary>
    public static string Scrub(string source) =>
        VersionPattern().Replace(source, "GeneratedCode(\"Rpc.Generator\", \"<version>\")");

    /// <summary>A line diff (longest common subsequence) showing only changed lines with two lines of context.</summary>
    internal static string Diff(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var lines = new List<(char Kind, int Line, string Text)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                lines.Add((' ', x + 1, a[x]));
                x++;
                y++;
            }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                lines.Add(('+', y + 1, b[y]));
                y++;
            }
            else
            {
                lines.Add(('-', x + 1, a[x]));
                x++;
            }
        }

        var output = new StringBuilder();
        var shown = new HashSet<int>();
        for (var k = 0; k < lines.Count; k++)
        {
            if (lines[k].Kind == ' ')
            {
                continue;
            }

            for (var c = Math.Max(0, k - 2); c <= Math.Min(lines.Count - 1, k + 2); c++)
            {
                shown.Add(c);
            }
        }

        var previous = -1;
        foreach (var k in shown.OrderBy(k => k))
        {
            if (previous >= 0 && k != previous + 1)
            {
                output.Append("  ...\n");
            }

            output.Append(lines[k].Kind).Append(' ').Append(lines[k].Line.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(5)).Append(" | ").Append(lines[k].Text).Append('\n');
            previous = k;
        }

        return output.ToString();
    }

    [GeneratedRegex("GeneratedCode\\(\"Rpc\\.Generator\", \"[^\"]*\"\\)")]
    private static partial Regex VersionPattern();
}
