#!/usr/bin/env bash
# Runs every test in the solution. Multi-process tests spawn their own server processes and clean them up.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Rpc.sln -c Release
dotnet test Rpc.sln -c Release --no-build --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=1800000
