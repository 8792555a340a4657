using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Tests.Groups;

namespace Rpc.Soak;

/// <summary>
/// Broadcasts numbered ticks to every subscriber process at a steady rate; at the end each subscriber must hold every
/// tick, in order, and the group must have dropped nothing (the Wait policy blocks the publisher rather than drop).
/// </summary>
internal sealed class BroadcastTraffic(RpcGroup<IGroupMember> group, Ledger ledger)
{
    // 500 ticks a second keeps the subscribers' final answer (every tick they saw) a few MiB even after 10 minutes.
    private const int TicksPerBatch = 50;
    private static readonly TimeSpan BatchInterval = TimeSpan.FromMilliseconds(100);

    private long _sent;

    public async Task RunAsync(CancellationToken stop)
    {
        var payload = new string('t', 100);
        using var pacing = new PeriodicTimer(BatchInterval);
        while (!stop.IsCancellationRequested)
        {
            // The Wait policy blocks this thread while a subscriber's queue is full: keep it off the timer's thread.
            await Task.Run(
                () =>
                {
                    for (var i = 0; i < TicksPerBatch; i++)
                    {
                        group.All.OnTick(_sent++, payload);
                    }
                },
                CancellationToken.None);
            try
            {
                await pacing.WaitForNextTickAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        ledger.Count("broadcast ticks sent", _sent);
    }

    /// <summary>Asks every subscriber for what it received (bounded) and checks it is every tick sent, in order.</summary>
    public async Task VerifyAsync(int subscribers)
    {
        if (group.MessagesDropped != 0 || group.MembersDisconnected != 0 || group.Count != subscribers)
        {
            ledger.Violation($"broadcast: {group.MessagesDropped} dropped, {group.MembersDisconnected} members disconnected, {group.Count} of {subscribers} subscribers left");
        }

        using var timeout = new CancellationTokenSource(Ledger.OperationTimeout);
        var sent = _sent;
        var results = await group.InvokeAsync(member => member.WaitForTicksAsync(checked((int)sent), timeout.Token));
        foreach (var result in results)
        {
            if (!result.IsSuccess)
            {
                ledger.Violation($"broadcast: a subscriber did not report its ticks: {result.Exception?.Message}");
            }
            else
            {
                var ticks = result.Value!;
                var firstWrong = Enumerable.Range(0, ticks.Length).FirstOrDefault(i => ticks[i] != i, -1);
                if (ticks.Length != sent || firstWrong >= 0)
                {
                    ledger.Violation($"broadcast: a subscriber holds {ticks.Length} of {sent} ticks, first out of place at index {firstWrong}");
                }
                else
                {
                    ledger.Count("broadcast ticks received in order", ticks.Length);
                }
            }
        }
    }
}
