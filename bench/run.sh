#!/usr/bin/env bash
# Runs the benchmarks; installs b3sum (from crates.io) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v b3sum >/dev/null 2>&1; then
  echo "installing b3sum with cargo (one time) ..."
  cargo install b3sum --locked
fi
python3 bench/bench.py "$@"
