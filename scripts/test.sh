#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit tests, and the tests
# against real peers (xrdp, FreeRDP, hive and event-log oracles).
# Run as root on Debian 12 and it first installs what the tests need
# (scripts/deps/apt.txt, scripts/deps/pip.txt); elsewhere it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

read_list() { { grep -v '^\s*#' "$1" 2>/dev/null || true; } | tr -s ' \t' '\n' | sed '/^$/d' | sort -u; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in $(read_list scripts/deps/apt.txt); do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing test packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

pip_pkgs=$(read_list scripts/deps/pip.txt)
if [ -n "$pip_pkgs" ]; then
    # shellcheck disable=SC2086
    python3 -m pip install -q --disable-pip-version-check $pip_pkgs 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages $pip_pkgs
fi

if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# A build from scratch (CI) gains nothing from incremental compilation.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
echo "== Debian package: built from the test build, installed with dpkg, run, removed"
PROFILE=dev bash scripts/package.sh --check
echo "== Windows build under Wine"
bash scripts/windows.sh
echo "== fuzzing (FUZZ_SECONDS=${FUZZ_SECONDS:-15} per target)"
bash scripts/fuzz.sh
