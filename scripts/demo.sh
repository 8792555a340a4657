#!/usr/bin/env bash
# The demo: the calculator over every transport (Unix socket, TCP, named pipe, shared memory, a child process), then
# broadcast to subscriber processes (Ticker), then a work queue with worker processes, one of them killed (WorkQueue),
# then shared state: worker processes counting under one lock and summing one array in place (SharedCounter), then one
# trace across a client and a server process (Observability).
set -euo pipefail
cd "$(dirname "$0")/.."
for sample in Calculator.Client Ticker WorkQueue SharedCounter Observability; do
  dotnet build -c Release "samples/$sample" -nologo -v quiet
done
echo "### Calculator: one contract, every transport"
dotnet run -c Release --no-build --project samples/Calculator.Client
echo
echo "### Ticker: typed broadcast to subscriber processes"
dotnet run -c Release --no-build --project samples/Ticker -- demo
echo
echo "### WorkQueue: each job to exactly one worker process"
dotnet run -c Release --no-build --project samples/WorkQueue -- demo
echo
echo "### SharedCounter: shared memory and a lock across processes"
dotnet run -c Release --no-build --project samples/SharedCounter -- counter
dotnet run -c Release --no-build --project samples/SharedCounter -- sum
echo
echo "### Observability: one trace across two processes (OpenTelemetry console exporter)"
dotnet run -c Release --no-build --project samples/Observability -- demo | grep -E '^\[client\]|TraceId|ParentSpanId|DisplayName|Kind|error.type'
