#!/usr/bin/env bash
# Runs the cargo-fuzz targets (make fuzz): FUZZ_SECONDS each, FUZZ_JOBS at a
# time, new inputs kept in fuzz/corpus/TARGET, crashes in
# fuzz/artifacts/TARGET. Prints one line per target: executions, their rate,
# the corpus size, and whether it crashed. Exit 1 when any target crashed.
set -u
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
TARGETS=${FUZZ_TARGETS:-"commit tree manifest chunk chunk_list event batch pack_index pack_record profile proof config csv jsonl parquet pending oplog"}
mkdir -p logs
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O || exit 1
run_one() {
    t=$1
    mkdir -p "corpus/$t" "artifacts/$t"
    cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 \
        -print_final_stats=1 > "logs/$t.log" 2>&1
    rc=$?
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$')
    rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$')
    files=$(ls "corpus/$t" | wc -l)
    if [ $rc -eq 0 ]; then verdict=clean; else verdict="CRASH (logs/$t.log)"; fi
    printf '%-12s %6ss %12s execs %8s/s %6s inputs  %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "$files" "$verdict"
    [ $rc -eq 0 ]
}
export -f run_one
export SECONDS_EACH
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c 'run_one {}'
