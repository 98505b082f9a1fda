#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: FUZZ_SECONDS each (default 15).
# Starts from the committed seeds and regression inputs (fuzz/seeds/TARGET,
# fuzz/regressions/TARGET); new corpus entries go to fuzz/corpus/TARGET
# (not committed). A crash fails the run and leaves the input in
# fuzz/artifacts/TARGET: copy it to fuzz/regressions/TARGET once fixed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo fuzz passes -Z flags to rustc; the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
secs=${FUZZ_SECONDS:-15}
targets=$(cargo fuzz list)
cargo fuzz build $targets >/dev/null 2>&1 || cargo fuzz build
passed=0
for t in $targets; do
    dirs=("corpus/$t")
    mkdir -p "corpus/$t"
    [ -d "seeds/$t" ] && dirs+=("seeds/$t")
    [ -d "regressions/$t" ] && dirs+=("regressions/$t")
    echo "== fuzz $t for ${secs}s"
    log=$(mktemp)
    if ! cargo fuzz run "$t" "${dirs[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $passed passed, 1 failed ($t)"
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|Done)' "$log" || true
    rm -f "$log"
    passed=$((passed + 1))
done
echo "fuzz: $passed passed, 0 failed"
