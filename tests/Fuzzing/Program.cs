using System;
using System.IO;
using System.Linq;
using SharpFuzz;

namespace Rpc.Fuzzing;

/// <summary>
/// <c>Rpc.Fuzzing --target NAME</c>: runs under <c>afl-fuzz</c> (one child process runs many inputs).
/// <c>--seeds NAME DIR</c>: writes the target's starting corpus. <c>--replay NAME FILE...</c>: runs saved inputs once each
/// and says which break the oracle (to triage a finding).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        switch (args)
        {
            case ["--target", var target] when FuzzTargets.Names.Contains(target):
                // Nothing instrumented may run before this: the coverage map it writes to exists only once Run has set it up.
                // Out of process: a child runs the inputs, so a native crash (a stray access into a guard page) or an AFL++
                // timeout kills only the child, which is restarted, instead of the fork server and the whole campaign.
                Fuzzer.OutOfProcess.Run(stream => FuzzTargets.Run(target, ReadAll(stream)));
                return 0;
            case ["--seeds", var target, var directory]:
                Console.WriteLine($"{SeedCorpus.Write(target, directory)} seeds written to {directory}.");
                return 0;
            case ["--replay", var target, .. var files] when files.Length > 0:
                return Replay(target, files);
            default:
                Console.Error.WriteLine(
                    $"usage: Rpc.Fuzzing --target NAME | --seeds NAME DIR | --replay NAME FILE...\ntargets: {string.Join(", ", FuzzTargets.Names)}");
                return 2;
        }
    }

    private static int Replay(string target, string[] files)
    {
        var failures = 0;
        foreach (var file in files)
        {
            try
            {
                FuzzTargets.Run(target, File.ReadAllBytes(file));
                Console.WriteLine($"ok    {file}");
            }
            catch (Exception exception)
            {
                failures++;
                Console.WriteLine($"FAIL  {file}: {exception}");
            }
        }

        return failures == 0 ? 0 : 1;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
