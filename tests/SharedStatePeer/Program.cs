using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Rpc.SharedState;

// Usage: SharedStatePeer <mode> <name> [count|index value]
//   lock-increment <name> <count>    open SharedArray<long> of 2, print "ready", wait until element 1 changes, then
//                                    <count> times, under the lock, read element 0 and write it plus one; exit
//   atomic-increment <name> <count>  the same with AtomicAdd(0, 1) and no lock
//   hold-lock <name>                 open SharedValue<long>, take its lock, write -1 (a half-done update), print "locked"
//   hold <name>                      open SharedArray<int>, print "ready"
//   create-hold <name>               create SharedArray<int> of 16, print "ready"
//   store <name> <index> <value>     open SharedArray<int>, AtomicExchange(index, value), print "stored"
// Then every mode waits for stdin to close (the test ends it, or SIGKILLs it), except the increments and store, which exit.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: SharedStatePeer <lock-increment|atomic-increment|hold-lock|hold|create-hold|store> <name> [...]");
    return 2;
}

_ = Task.Run(() =>
{
    // Never outlive the test run.
    Console.In.ReadToEnd();
    Environment.Exit(3);
});

var name = args[1];
int Argument(int index) => int.Parse(args[index], NumberStyles.Integer, CultureInfo.InvariantCulture);

switch (args[0])
{
    case "lock-increment":
    case "atomic-increment":
        {
            // Element 0 is the counter, element 1 the start signal: every peer opens first, then all count at once.
            using var shared = SharedArray<long>.Open(name, 2);
            Console.WriteLine("ready");
            if (!shared.WaitForChange(1, 0, TimeSpan.FromSeconds(60)))
            {
                Console.Error.WriteLine("no start signal within 60 s");
                return 1;
            }

            for (var i = Argument(2); i > 0; i--)
            {
                if (args[0] == "atomic-increment")
                {
                    _ = shared.AtomicAdd(0, 1);
                    continue;
                }

                using (shared.Lock(TimeSpan.FromSeconds(60)))
                {
                    // Read, then write: two steps another process could interleave with, if the lock did not exclude it.
                    var value = shared[0];
                    shared[0] = value + 1;
                }
            }

            return 0;
        }

    case "hold-lock":
        {
            var value = SharedValue<long>.Open(name);
            _ = value.Lock(TimeSpan.FromSeconds(60));
            value.Value = -1;
            Console.WriteLine("locked");
            break;
        }

    case "hold":
        {
            _ = SharedArray<int>.Open(name);
            Console.WriteLine("ready");
            break;
        }

    case "create-hold":
        {
            _ = SharedArray<int>.Create(name, 16);
            Console.WriteLine("ready");
            break;
        }

    case "store":
        {
            using var array = SharedArray<int>.Open(name);
            _ = array.AtomicExchange(Argument(2), Argument(3));
            Console.WriteLine("stored");
            return 0;
        }

    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}'");
        return 2;
}

await Task.Delay(Timeout.Infinite);
return 0;
