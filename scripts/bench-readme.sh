#!/usr/bin/env bash
# Copies the benchmark table of one report (default: bench/results/latest.md, the last full run) into README.md's
# Benchmark section: the block between the bench-table markers, which the report writes with its date, machine,
# .NET version and load average at the start and end of the run.
#   scripts/bench-readme.sh [report.md]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
report=${1:-$root/bench/results/latest.md}
readme=$root/README.md
start='<!-- bench-table:start -->'
end='<!-- bench-table:end -->'
for file in "$report" "$readme"; do
  if ! grep -qxF "$start" "$file" || ! grep -qxF "$end" "$file"; then
    echo "bench-readme: no '$start' ... '$end' block in $file" >&2
    exit 1
  fi
done

awk -v start="$start" -v end="$end" '
  NR == FNR { if ($0 == start) inside = 1; if (inside) block = block $0 "\n"; if ($0 == end) inside = 0; next }
  $0 == start { printf "%s", block; skipping = 1; next }
  skipping { if ($0 == end) skipping = 0; next }
  { print }
' "$report" "$readme" > "$readme.tmp"
mv "$readme.tmp" "$readme"
echo "README.md: benchmark table replaced from $report"
