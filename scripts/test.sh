#!/usr/bin/env bash
# Runs every test in the solution. Multi-process tests spawn their own server processes and clean them up.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Rpc.sln -c Release

# The packaging tests install the packages of this tree the way a user does. A version no earlier run used keeps an
# older build of the same version in ~/.nuget/packages from standing in for this one; that version is removed from
# the cache again on the way out, so the cache (and its ILCompiler, MessagePack, …) is shared, not re-downloaded.
export RPC_PACKAGE_VERSION="0.1.0-local.$(date -u +%Y%m%d%H%M%S)"
export RPC_PACKAGE_FEED="$PWD/artifacts/packages"
packages_cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
remove_run_packages() {
  for package in "$packages_cache"/rpc.*; do
    [ -d "$package/$RPC_PACKAGE_VERSION" ] || continue
    rm -rf "${package:?}/$RPC_PACKAGE_VERSION"
    rmdir --ignore-fail-on-non-empty "$package"
  done
}
trap remove_run_packages EXIT
rm -rf "$RPC_PACKAGE_FEED"
dotnet pack Rpc.sln -c Release --no-build -o "$RPC_PACKAGE_FEED" -p:Version="$RPC_PACKAGE_VERSION"

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
