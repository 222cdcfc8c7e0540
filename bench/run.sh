#!/usr/bin/env bash
# Runs the benchmarks; installs b3sum (from crates.io) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v b3sum >/dev/null 2>&1; then
  echo "installing b3sum with cargo (one time) ..."
  cargo install b3sum --locked
fi
if ! python3 -c "import scipy, numpy, pyarrow" >/dev/null 2>&1; then
  echo "installing scipy and pyarrow with pip (one time; the drift and export cases compare with them) ..."
  python3 -m pip install --quiet scipy numpy pyarrow
fi
if ! python3 -c "import zstandard" >/dev/null 2>&1; then
  echo "installing zstandard with pip (one time; the purge case searches compressed records for its marker) ..."
  python3 -m pip install --quiet zstandard
fi
python3 bench/bench.py "$@"
