#!/usr/bin/env bash
# Alternates two folio binaries on the same data, to tell a code change from
# the machine's noise: bash bench/ab.sh OLD_FOLIO NEW_FOLIO [ROUNDS]
# Needs the datasets `make bench` leaves in bench/out (small, ledger-1000000).
# Prints one line per run: binary, command, seconds.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); rounds=${3:-3}
cd "$(dirname "$0")/out"
export FOLIO_NOW=2026-01-15T10:00:00Z FOLIO_AUTHOR=bench
source=$(python3 -c "import sys; sys.path.insert(0, '..'); import bench; print(bench.META_SOURCES[3])")
time_it() { # label command...
  local s e; s=$(date +%s.%N); "${@:2}" >/dev/null 2>&1 || true; e=$(date +%s.%N)
  echo "$1 $(echo "$e - $s" | bc)"
}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r small/data "$work/data"
for _ in $(seq "$rounds"); do
  for which in old new; do
    bin=${!which}
    (cd ledger-1000000 && time_it "$which lineage" "$bin" lineage data/a.jsonl:77)
    (cd ledger-1000000 && time_it "$which audit-source" "$bin" audit --source "$source")
    (cd "$work" && rm -rf .folio out && "$bin" init >/dev/null && sync \
      && time_it "$which commit-first" "$bin" commit data -m x -q \
      && time_it "$which status-noop" "$bin" status \
      && time_it "$which checkout-to" "$bin" checkout HEAD --to out)
  done
done
