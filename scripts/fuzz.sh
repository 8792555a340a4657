#!/usr/bin/env bash
# Fuzzes one decoder with AFL++ and SharpFuzz for a bounded time, or minimizes its kept corpus.
#   scripts/fuzz.sh TARGET [SECONDS]   fuzz (default 600 s); findings land in artifacts/fuzz/TARGET/findings/default/
#   scripts/fuzz.sh --cmin TARGET      replace tests/Fuzzing/Corpus/TARGET with afl-cmin of it plus the last run's queue
# Targets: binary, jsonrpc, shm-ring, shm-handshake (tests/Fuzzing/FuzzTargets.cs).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

minimize=false
if [[ "${1:-}" == "--cmin" ]]; then
  minimize=true
  shift
fi
target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS] | scripts/fuzz.sh --cmin TARGET}"
seconds="${2:-600}"
case "$target" in
  binary|jsonrpc|shm-ring|shm-handshake) ;;
  *) echo "unknown target '$target'; targets: binary, jsonrpc, shm-ring, shm-handshake" >&2; exit 2 ;;
esac

command -v afl-fuzz >/dev/null || { apt-get update -qq && apt-get install -y -qq afl++; }
tools="$PWD/artifacts/fuzz/tools"
[[ -x "$tools/sharpfuzz" ]] || dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null

# Build once per target into its own folder, then instrument the assemblies whose branches matter: ours, the generated
# formatters (in the test contracts), and the MessagePack / StreamJsonRpc readers they call.
work="$PWD/artifacts/fuzz/$target"
bin="$work/bin"
rm -rf "$bin"
dotnet build tests/Fuzzing/Rpc.Fuzzing.csproj -c Release -v quiet -nologo >/dev/null
mkdir -p "$bin"
cp -r tests/Fuzzing/bin/Release/net10.0/. "$bin"/
for assembly in Rpc.Contracts Rpc.Runtime Rpc.Transports Rpc.TestContracts MessagePack StreamJsonRpc; do
  "$tools/sharpfuzz" "$bin/$assembly.dll" >/dev/null
done

corpus="tests/Fuzzing/Corpus/$target"
harness=(dotnet "$bin/Rpc.Fuzzing.dll" --target "$target")
# The harness is managed code: AFL++ cannot see instrumentation in the dotnet binary itself. Each run's own hang limit
# (FuzzTargets.InputTimeout, 20 s) reports a hang as a crash with a message before AFL++'s 40 s limit would.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1

if $minimize; then
  pool="$work/cmin-in"
  rm -rf "$pool" "$work/cmin-out"
  mkdir -p "$pool"
  cp "$corpus"/* "$pool"/
  [[ -d "$work/findings/default/queue" ]] && find "$work/findings/default/queue" -maxdepth 1 -type f -name 'id:*' -exec cp {} "$pool"/ \;
  afl-cmin -i "$pool" -o "$work/cmin-out" -t 40000 -m none -- "${harness[@]}"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  # AFL++'s names contain ':' and ','; keep them short and portable.
  i=0
  for file in "$work/cmin-out"/*; do
    cp "$file" "$corpus/$(printf 'min-%04d' "$i")"
    i=$((i + 1))
  done
  echo "corpus: $i inputs in $corpus ($(du -sh "$corpus" | cut -f1))"
  exit 0
fi

mkdir -p "$work"
afl-fuzz -i "$corpus" -o "$work/findings" -t 40000 -m none -V "$seconds" -- "${harness[@]}" || true

findings="$work/findings/default"
echo
echo "== $target: $(grep -E '^execs_done' "$findings/fuzzer_stats" | tr -s ' ') after ${seconds} s =="
echo "crashes: $(find "$findings/crashes" -type f -name 'id:*' | wc -l) in $findings/crashes"
echo "hangs:   $(find "$findings/hangs" -type f -name 'id:*' | wc -l) in $findings/hangs"
echo "Replay one: dotnet $bin/Rpc.Fuzzing.dll --replay $target FILE"
echo "Keep it as a regression input: copy it to tests/Fuzzing/Crashes/$target/ (a short descriptive name), fix, re-run the tests."
