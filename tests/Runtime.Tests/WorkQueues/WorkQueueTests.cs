using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests.WorkQueues;

/// <summary>The hub's scheduling, bounds, join and metrics, with in-process workers whose jobs the test gates.</summary>
public sealed class WorkQueueTests : TestBase
{
    private static WorkQueueHub<IJobs> CreateHub(int capacity = 1024, int concurrency = 1, int maxAttempts = 3) =>
        new(new WorkQueueOptions { Name = $"test-{Guid.NewGuid():N}", QueueCapacity = capacity, WorkerConcurrency = concurrency, MaxAttempts = maxAttempts });

    [Fact]
    public async Task Each_call_goes_to_the_least_busy_worker()
    {
        await using var hub = CreateHub(concurrency: 4);
        await using var a = GatedJobs.Attach(hub, 1);
        await using var b = GatedJobs.Attach(hub, 2);
        var jobs = hub.Proxy;

        var calls = new List<Task<JobResult>>();
        for (var id = 1; id <= 3; id++)
        {
            calls.Add(jobs.RunAsync(id, 0, TimeoutToken));
            await WaitUntilAsync(() => a.Running + b.Running == id);

            // Each call went to a worker that had the fewest calls: the counts never differ by more than one.
            Assert.True(Math.Abs(a.Running - b.Running) <= 1, $"a={a.Running} b={b.Running}");
        }

        // Let the busier worker finish everything: it becomes the least busy, so the next call must go to it.
        var (busy, other) = a.Running == 2 ? (a, b) : (b, a);
        foreach (var id in busy.Started)
        {
            busy.Release(id);
        }

        await WaitUntilAsync(() => busy.Running == 0);
        calls.Add(jobs.RunAsync(4, 0, TimeoutToken));
        await WaitUntilAsync(() => busy.Running == 1);
        Assert.Equal(1, other.Running);
        Assert.Contains(4, busy.Started);

        calls.Add(jobs.RunAsync(5, 0, TimeoutToken));
        calls.Add(jobs.RunAsync(6, 0, TimeoutToken));
        await WaitUntilAsync(() => busy.Running + other.Running == 4);
        Assert.Equal(2, busy.Running);
        Assert.Equal(2, other.Running);

        for (var id = 1; id <= 6; id++)
        {
            a.Release(id);
            b.Release(id);
        }

        var results = await Task.WhenAll(calls).WaitAsync(TimeoutToken);
        Assert.Equal([1, 2, 3, 4, 5, 6], results.Select(r => r.Id).Order());
    }

    [Fact]
    public async Task A_full_queue_holds_further_calls_back_and_never_exceeds_its_capacity()
    {
        await using var hub = CreateHub(capacity: 4);
        using var meter = new WorkQueueMeter(hub.Name);
        await using var worker = GatedJobs.Attach(hub, 1);

        var calls = Enumerable.Range(0, 20).Select(id => hub.Proxy.RunAsync(id, 0, TimeoutToken)).ToList();
        await WaitUntilAsync(() => hub.InFlight == 1 && hub.QueueLength == 4 && hub.WaitingForRoom == 15 && worker.Running == 1);
        Assert.All(calls, call => Assert.False(call.IsCompleted));
        Assert.Single(worker.Started);

        worker.Open = true;
        for (var id = 0; id < 20; id++)
        {
            worker.Release(id);
        }

        var results = await Task.WhenAll(calls).WaitAsync(TimeoutToken);
        Assert.Equal(Enumerable.Range(0, 20), results.Select(r => r.Id));

        // One slot: the worker saw the calls in the order they were made (the queue and the wait for room are FIFO).
        Assert.Equal(Enumerable.Range(0, 20), worker.Started);
        Assert.Equal(4, meter.MaxQueueLength);
        Assert.Equal(0, hub.QueueLength + hub.WaitingForRoom + hub.InFlight);
    }

    [Fact]
    public async Task A_producer_bounds_its_outstanding_calls()
    {
        await using var hub = CreateHub();
        await using var worker = GatedJobs.Attach(hub, 1);
        var producer = RpcWorkQueue.CreateProducer(hub, new WorkQueueProducerOptions { MaxOutstandingCalls = 2 });

        var calls = Enumerable.Range(0, 5).Select(id => producer.Proxy.RunAsync(id, 0, TimeoutToken)).ToList();
        await WaitUntilAsync(() => hub.InFlight == 1 && hub.QueueLength == 1);

        // A sentinel made straight to the hub queues behind every call the producer let through: once it is queued, a
        // third producer call would be counted too.
        var sentinel = hub.Proxy.RunAsync(99, 0, TimeoutToken);
        await WaitUntilAsync(() => hub.QueueLength >= 2);
        Assert.Equal(2 + 1, hub.InFlight + hub.QueueLength + hub.WaitingForRoom);
        Assert.Equal(5, producer.Outstanding);

        worker.Open = true;
        foreach (var id in (int[])[0, 1, 2, 3, 4, 99])
        {
            worker.Release(id);
        }

        await Task.WhenAll([.. calls, sentinel]).WaitAsync(TimeoutToken);
        Assert.Equal(0, producer.Outstanding);
    }

    [Fact]
    public async Task Join_waits_for_exactly_the_work_queued_before_it()
    {
        await using var hub = CreateHub(concurrency: 16);
        await using var worker = GatedJobs.Attach(hub, 1);
        var producer = RpcWorkQueue.CreateProducer(hub);

        await producer.JoinAsync(TimeoutToken).WaitAsync(TimeoutToken); // nothing outstanding: at once

        var before = Enumerable.Range(1, 5).Select(id => producer.Proxy.RunAsync(id, 0, TimeoutToken)).ToList();
        // Without a token, the join's task is the one the last call it waits for completes, inside that call, before the
        // call's own task: once a call's task is complete, the join has seen it.
        var join = producer.JoinAsync();
        var after = Enumerable.Range(6, 3).Select(id => producer.Proxy.RunAsync(id, 0, TimeoutToken)).ToList();
        await WaitUntilAsync(() => worker.Running == 8);

        for (var id = 1; id <= 4; id++)
        {
            worker.Release(id);
        }

        await Task.WhenAll(before.Take(4)).WaitAsync(TimeoutToken);
        Assert.False(join.IsCompleted);

        // A failed call is completed work too.
        worker.Release(5, new InvalidOperationException("job 5 failed"));
        await join.WaitAsync(TimeoutToken);
        await Assert.ThrowsAsync<RemoteInvocationException>(() => before[4]);

        // The calls made after the join are still running: the join did not wait for them.
        Assert.All(after, call => Assert.False(call.IsCompleted));
        Assert.Equal(3, producer.Outstanding);

        var second = producer.JoinAsync(TimeoutToken);
        Assert.False(second.IsCompleted);
        for (var id = 6; id <= 8; id++)
        {
            worker.Release(id);
        }

        await second.WaitAsync(TimeoutToken);
        Assert.All(after, call => Assert.True(call.IsCompletedSuccessfully));
    }

    [Fact]
    public async Task Calls_wait_for_a_worker_when_none_is_attached()
    {
        await using var hub = CreateHub();
        var call = hub.Proxy.RunAsync(1, 0, TimeoutToken);
        await WaitUntilAsync(() => hub.QueueLength == 1 || call.IsCompleted);
        Assert.False(call.IsCompleted);
        Assert.Equal(1, hub.QueueLength);

        using var cancel = new CancellationTokenSource();
        var cancelled = hub.Proxy.RunAsync(2, 0, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).WaitAsync(TimeoutToken);
        Assert.Equal(1, hub.QueueLength);

        await using var worker = GatedJobs.Attach(hub, 7, open: true);
        Assert.Equal(new JobResult(7, 1), await call.WaitAsync(TimeoutToken));
        Assert.Equal([1], worker.Started);
    }

    [Fact]
    public async Task A_lost_worker_reruns_idempotent_calls_fails_the_others_and_counts_both()
    {
        await using var hub = CreateHub(concurrency: 2);
        using var meter = new WorkQueueMeter(hub.Name);
        await using var doomed = GatedJobs.Attach(hub, 1);

        var idempotent = hub.Proxy.RunIdempotentAsync(1, 0, TimeoutToken);
        var once = hub.Proxy.RunAsync(2, 0, TimeoutToken);
        await WaitUntilAsync(() => doomed.Running == 2);
        await using var survivor = GatedJobs.Attach(hub, 2, open: true);

        doomed.WorkerSide.Abort();

        Assert.Equal(new JobResult(2, 1), await idempotent.WaitAsync(TimeoutToken));
        var lost = await Assert.ThrowsAsync<WorkerLostException>(() => once).WaitAsync(TimeoutToken);
        Assert.Contains("may or may not have run", lost.Message, StringComparison.Ordinal);
        Assert.True(RpcWorkQueue.IsWorkerLost(lost));
        Assert.Equal([1], survivor.Started);

        await WaitUntilAsync(() => hub.WorkerCount == 1);
        Assert.Equal(2, meter["rpc.work_queue.queued"]);
        Assert.Equal(1, meter["rpc.work_queue.retried"]);
        Assert.Equal(1, meter["rpc.work_queue.worker_lost"]);
        Assert.Equal(1, meter["rpc.work_queue.completed"]);
        Assert.Equal(0, meter["rpc.work_queue.in_flight"]);
        Assert.Equal(0, meter["rpc.work_queue.queue_length"]);
        Assert.Equal(1, meter["rpc.work_queue.workers"]);
        Assert.Equal(2, meter["rpc.work_queue.queue_wait.count"]);
    }

    [Fact]
    public async Task Idempotent_calls_give_up_after_max_attempts()
    {
        await using var hub = CreateHub(maxAttempts: 2);
        var first = GatedJobs.Attach(hub, 1);
        var call = hub.Proxy.RunIdempotentAsync(1, 0, TimeoutToken);
        await WaitUntilAsync(() => first.Running == 1);
        var second = GatedJobs.Attach(hub, 2);
        first.WorkerSide.Abort();
        await WaitUntilAsync(() => second.Running == 1);
        second.WorkerSide.Abort();

        var lost = await Assert.ThrowsAsync<WorkerLostException>(() => call).WaitAsync(TimeoutToken);
        Assert.Contains("2 times", lost.Message, StringComparison.Ordinal);
        await first.DisposeAsync();
        await second.DisposeAsync();
    }

    [Fact]
    public async Task Streams_and_notifications_go_to_one_worker()
    {
        await using var hub = CreateHub();
        using var meter = new WorkQueueMeter(hub.Name);
        await using var a = GatedJobs.Attach(hub, 1, open: true);
        await using var b = GatedJobs.Attach(hub, 2, open: true);

        var items = new List<int>();
        await foreach (var item in hub.Proxy.CountAsync(10, 5, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal([0, 1, 2, 3, 4], items);
        hub.Proxy.Touch(11);
        hub.Proxy.Touch(12);
        await WaitUntilAsync(() => a.Started.Count + b.Started.Count == 3);
        var all = a.Started.Concat(b.Started).Order().ToList();
        Assert.Equal([10, 11, 12], all);
        await WaitUntilAsync(() => meter["rpc.work_queue.completed"] == 3);
    }
}
