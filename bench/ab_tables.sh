#!/usr/bin/env bash
# Alternates two folio binaries on the large tables `make bench` leaves in
# bench/out, to tell a code change from the machine's noise:
#   bash bench/ab_tables.sh OLD_FOLIO NEW_FOLIO [ROUNDS]
# Needs bench/out/big-10000000/t.orig.csv (`bench.py --only big`) and
# bench/out/rows-5000000/t.csv (`bench.py --only rows`).
# Prints one line per step: binary, step, seconds, peak KiB, KiB written.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); rounds=${3:-2}
out="$(cd "$(dirname "$0")" && pwd)/out"
export FOLIO_NOW=2026-01-15T10:00:00Z FOLIO_AUTHOR=bench
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
big="$out/big-10000000/t.orig.csv"; rows5="$out/rows-5000000/t.csv"
# The 1% change of `bench.py --only big`: a new x for 100,000 rows.
python3 - "$big" "$work/t2.csv" <<'PY'
import random, sys
rows = 10_000_000
chosen = set(random.Random(14).sample(range(rows), rows // 100))
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    out.write(next(src))
    for i, line in enumerate(src):
        if i in chosen:
            parts = line.split(","); parts[1] = str(int(parts[1]) + 1); line = ",".join(parts)
        out.write(line)
PY
step() { # label binary command...
  /usr/bin/time -f "%e %M %O" -o "$work/time" "${@:2}" >/dev/null 2>&1
  read -r s m o < "$work/time"
  echo "$1 $s s, $((m / 1024)) MiB peak, $((o / 2048)) MiB written"
}
for _ in $(seq "$rounds"); do
  for which in old new; do
    bin=${!which}
    mkdir -p "$work/b" && cd "$work/b" && rm -rf .folio && cp "$big" t.csv
    "$bin" init -q && printf '[tables."t.csv"]\nkey = ["id"]\n' >> .folio/config.toml && sync
    step "$which 10M: commit" "$bin" commit t.csv -m one -q
    cp "$work/t2.csv" t.csv && sync
    step "$which 10M: re-commit, 1% changed" "$bin" commit t.csv -m two -q
    rm -rf "$work/b" && mkdir -p "$work/m" && cd "$work/m" && rm -rf .folio && cp "$rows5" t.csv
    "$bin" init -q && printf '[tables."t.csv"]\nkey = ["id"]\n[tables."t.csv".meta]\nlabel = "label"\nannotator = "who"\nconfidence = "conf"\n' >> .folio/config.toml && sync
    step "$which 5M, 3 mapped: commit" "$bin" commit t.csv -m one -q
    rm -rf "$work/m"
  done
done
