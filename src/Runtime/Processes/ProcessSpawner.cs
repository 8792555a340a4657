using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Processes;

/// <summary>Runs every child start on one thread that lives as long as the process.</summary>
/// <remarks>
/// Two reasons. The child's <c>PR_SET_PDEATHSIG</c> fires when the thread that forked it ends, not the process: forking from
/// a thread-pool thread, which retires when idle, would kill a healthy child. And starts never overlap, so the inheritable
/// pipe ends made for one child are closed in the parent before the next child is forked and cannot leak into it (a
/// leaked write end would hide the first child's death from the parent).
/// </remarks>
internal static class ProcessSpawner
{
    private static readonly BlockingCollection<Action> Work = [];
    private static readonly Lazy<Thread> Thread = new(StartThread, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Task<T> RunAsync<T>(Func<T> start)
    {
        _ = Thread.Value;
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Work.Add(() =>
        {
            try
            {
                result.SetResult(start());
            }
            catch (Exception ex)
            {
                result.SetException(ex);
            }
        });
        return result.Task;
    }

    private static Thread StartThread()
    {
        var thread = new Thread(static () =>
        {
            foreach (var work in Work.GetConsumingEnumerable())
            {
                work();
            }
        })
        {
            IsBackground = true,
            Name = "Rpc child process starter",
        };
        thread.Start();
        return thread;
    }
}
