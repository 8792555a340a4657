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
echo "### HostedCalculator: the Generic Host, configuration and DI; SIGTERM drains the server, which exits 0"
dotnet build -c Release "samples/HostedCalculator" -nologo -v quiet
hosted=samples/HostedCalculator/bin/Release/net10.0/HostedCalculator.dll
hosted_log=$(mktemp)
hosted_socket="unix://$(mktemp -u /tmp/hosted-calc-XXXXXX).sock"
dotnet "$hosted" serve "--Rpc:Server:Endpoints:0=$hosted_socket" >"$hosted_log" 2>&1 &
hosted_pid=$!
trap 'kill "$hosted_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q "listening on" "$hosted_log" && break; sleep 0.1; done
dotnet "$hosted" call "--Rpc:Clients:ICalculator:Endpoint=$hosted_socket"
kill -TERM "$hosted_pid"
wait "$hosted_pid"
cat "$hosted_log"
rm -f "$hosted_log"
trap - EXIT

echo "### Observability: one trace across two processes (OpenTelemetry console exporter)"
dotnet run -c Release --no-build --project samples/Observability -- demo | grep -E '^\[client\]|TraceId|ParentSpanId|DisplayName|Kind|error.type'
