#!/usr/bin/env bash
# Publishes the sample client and server with NativeAOT (failing on any trim/AOT warning) and runs the demo between them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/aot
rm -rf "$out"
mkdir -p "$out"
for project in Calculator.Server Calculator.Client; do
  dotnet publish "samples/$project" -c Release -r linux-x64 -p:PublishAot=true -p:TreatWarningsAsErrors=true \
    -p:IlcTreatWarningsAsErrors=true -p:SuppressTrimAnalysisWarnings=false -o "$out" 2>&1 | tee "$out/$project.publish.log"
  if grep -E "warning (IL|AOT)[0-9]+" "$out/$project.publish.log"; then
    echo "NativeAOT publish of $project produced trim/AOT warnings" >&2
    exit 1
  fi
done
file "$out/Calculator.Client" "$out/Calculator.Server" || true
"$out/Calculator.Client" --server "$out/Calculator.Server"
