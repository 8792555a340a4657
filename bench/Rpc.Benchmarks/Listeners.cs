using System;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Rpc.Benchmarks;

/// <summary>
/// With <c>RPC_BENCH_LISTENERS=1</c> in the environment (inherited by the server processes), every process of the run
/// listens as an OpenTelemetry SDK would: an <see cref="ActivityListener"/> recording every span of the <c>Rpc</c> source
/// and a <see cref="MeterListener"/> on the call-duration histograms and the byte counter, all with callbacks that do nothing, so the rows
/// measure what Rpc itself costs when observed (exporting is the SDK's cost, not Rpc's).
/// </summary>
internal static class Listeners
{
    public const string Variable = "RPC_BENCH_LISTENERS";

    public static bool Requested => Environment.GetEnvironmentVariable(Variable) == "1";

    public static void StartIfRequested()
    {
        if (!Requested)
        {
            return;
        }

        ActivitySource.AddActivityListener(new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Rpc",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        });
        var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Rpc" && instrument.Name is "rpc.client.call.duration" or "rpc.server.call.duration" or "rpc.connection.io")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        meters.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        meters.Start();
    }
}
