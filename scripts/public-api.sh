#!/usr/bin/env bash
# Rewrites every shipping library's PublicAPI.Unshipped.txt from what the code declares, so a public API change is a
# reviewed diff: empties each Unshipped file, builds, turns each RS0016 (public, not declared) into a line and each
# RS0017 (declared in Shipped, gone) into a *REMOVED* line, sorted, then builds again, which must be clean.
# PublicAPI.Shipped.txt is never written: moving lines there is the release's deliberate step.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t projects < <(grep -rl --include='*.csproj' '<IsShippingLibrary>true</IsShippingLibrary>' src | sort)
[ "${#projects[@]}" -gt 0 ] || { echo "no shipping library (IsShippingLibrary=true) under src/" >&2; exit 1; }

for project in "${projects[@]}"; do
  dir="$(dirname "$project")"
  [ -f "$dir/PublicAPI.Shipped.txt" ] || printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
done

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Warnings stay warnings here so every project compiles and reports all of its symbols, not just the first failure;
# the rewritten Unshipped files are compiler inputs, so each library recompiles and reports again.
for project in "${projects[@]}"; do
  dotnet build "$project" -c Release -tl:off -nologo -clp:NoSummary \
    -p:TreatWarningsAsErrors=false >> "$log" 2>&1 || true
done

python3 - "$log" "${projects[@]}" <<'PY'
import os, re, sys
log, projects = sys.argv[1], sys.argv[2:]
added = re.compile(r"warning RS0016: Symbol '(.*)' is not part of the declared public API .*\[(.*\.csproj)")
removed = re.compile(r"warning RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found .*\[(.*\.csproj)")
lines = {os.path.realpath(p): set() for p in projects}
for text in open(log, encoding="utf-8", errors="replace"):
    for pattern, prefix in ((added, ""), (removed, "*REMOVED*")):
        match = pattern.search(text)
        if match and os.path.realpath(match.group(2)) in lines:
            lines[os.path.realpath(match.group(2))].add(prefix + match.group(1))
for project, symbols in lines.items():
    path = os.path.join(os.path.dirname(project), "PublicAPI.Unshipped.txt")
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("#nullable enable\n")
        out.writelines(s + "\n" for s in sorted(symbols, key=lambda s: (s.removeprefix("*REMOVED*"), s)))
    print(f"{path}: {len(symbols)} lines")
PY

# The check: with the files rewritten, every shipping library builds with warnings as errors.
for project in "${projects[@]}"; do
  dotnet build "$project" -c Release -tl:off -nologo -clp:NoSummary >/dev/null 2>"$log" || {
    dotnet build "$project" -c Release -tl:off -nologo 2>&1 | grep -E "error" | sort -u >&2
    echo "public-api.sh: $project does not build cleanly after the rewrite (errors above)" >&2
    exit 1
  }
done
echo "public-api.sh: every PublicAPI.Unshipped.txt matches the code; review the diff and commit it."
