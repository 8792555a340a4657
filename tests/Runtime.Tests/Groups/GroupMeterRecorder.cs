using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace Rpc.Tests.Groups;

/// <summary>Sums the rpc.group.* counters and keeps the gauges' last and highest values, for one group name only.</summary>
public sealed class GroupMeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _group;
    private readonly Dictionary<string, long> _sums = [];
    private readonly Dictionary<string, long> _last = [];
    private readonly Dictionary<string, long> _max = [];

    public GroupMeterRecorder(string group)
    {
        _group = group;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Rpc" && instrument.Name.StartsWith("rpc.group.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    /// <summary>Gets a counter's total, optionally for one <c>rpc.group.drop_reason</c>.</summary>
    public long Sum(string instrument, string? reason = null)
    {
        lock (_sums)
        {
            return _sums.GetValueOrDefault(reason is null ? instrument : $"{instrument}/{reason}");
        }
    }

    /// <summary>Polls the gauges, then returns the last value of <paramref name="instrument"/>.</summary>
    public long Observe(string instrument)
    {
        _listener.RecordObservableInstruments();
        lock (_sums)
        {
            return _last.GetValueOrDefault(instrument, -1);
        }
    }

    public long Max(string instrument)
    {
        lock (_sums)
        {
            return _max.GetValueOrDefault(instrument, -1);
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? group = null;
        string? reason = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "rpc.group.name")
            {
                group = tag.Value as string;
            }
            else if (tag.Key == "rpc.group.drop_reason")
            {
                reason = tag.Value as string;
            }
        }

        if (group != _group)
        {
            return;
        }

        lock (_sums)
        {
            if (instrument.IsObservable)
            {
                _last[instrument.Name] = value;
                _max[instrument.Name] = Math.Max(value, _max.GetValueOrDefault(instrument.Name, long.MinValue));
                return;
            }

            _sums[instrument.Name] = _sums.GetValueOrDefault(instrument.Name) + value;
            if (reason is not null)
            {
                var key = $"{instrument.Name}/{reason}";
                _sums[key] = _sums.GetValueOrDefault(key) + value;
            }
        }
    }
}
