#!/usr/bin/env bash
# Runs every test in the solution. Multi-process tests spawn their own server processes and clean them up.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Rpc.sln -c Release
results="$(mktemp -d)"
status=0
dotnet test Rpc.sln -c Release --no-build --logger "console;verbosity=normal" --logger trx --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1800000 || status=$?
if [ "$status" -ne 0 ]; then
  # The console log of parallel test assemblies interleaves; repeat the failures last, where a CI log's tail shows them.
  python3 scripts/trx-failures.py "$results" || true
fi
rm -rf "$results"
exit "$status"
