#!/usr/bin/env bash
# Cross-builds rdp-doctor for Windows (x86_64-pc-windows-gnu) and runs it
# under Wine: the Windows build must give the same answers as the Linux one.
# Needs gcc-mingw-w64-x86-64 and wine64 (scripts/deps/apt.txt) and the rustup
# target x86_64-pc-windows-gnu (added here when rustup is present).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
fi
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$wine" ] || { echo "windows: wine64 is not installed"; exit 1; }

cargo build --locked -q -p rdp-doctor --target "$target"
cargo build --locked -q -p rdp-doctor
tdir=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
work=$(mktemp -d)
wineserver="$(dirname "$wine")/wineserver"
[ -x "$wineserver" ] || wineserver=$(command -v wineserver || echo true)
# Stop this prefix's wineserver (started by this script) and remove the prefix.
trap 'WINEPREFIX="$work/prefix" "$wineserver" -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cp "$tdir/$target/debug/rdp-doctor.exe" "$work/"
# Wine 8 lacks ProcessPrng, which Rust's std needs: a test-only shim provides it.
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
    crates/testing/wine/bcryptprimitives_shim.c -ladvapi32
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b"
timeout 120 "$wine" wineboot --init >/dev/null 2>&1 || true

passed=0 failed=0
check() { # name, expected exit code, args...
    local name=$1 want=$2; shift 2
    local native win rc_native rc_win
    if native=$(cd "$work" && "$tdir/debug/rdp-doctor" "$@" 2>&1); then rc_native=0; else rc_native=$?; fi
    # pipefail: the status is wine's, not tr's.
    if win=$(cd "$work" && timeout 120 "$wine" ./rdp-doctor.exe "$@" 2>&1 | tr -d '\r'); then
        rc_win=0
    else
        rc_win=$?
    fi
    if [ "$rc_win" = "$want" ] && [ "$rc_native" = "$want" ] && [ "$native" = "$win" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED windows $name: exit native=$rc_native wine=$rc_win want=$want"
        diff <(echo "$native") <(echo "$win") | head -20 || true
    fi
}
check explain-pair 0 explain 0x904 0x7
check explain-json 0 explain --json ERRINFO_SERVER_DENIED_CONNECTION
check explain-event 0 explain event 1058
check explain-unknown 1 explain 0x7704
check explain-usage 2 explain 0xZZ
# The file parsers give the same answers on Windows (relative paths, so the output is identical).
cp crates/rdpfile/tests/corpus/freerdp_testRdpFileUTF16_extracted.rdp "$work/mstsc.rdp"
cp crates/rdpfile/tests/corpus/freerdp_testRdpFileUTF8_extracted.rdp "$work/broken.rdp"
xz -dc crates/regf/tests/data/regipy_SYSTEM_win7_32bit.xz > "$work/SYSTEM"
xz -dc crates/events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz > "$work/Security.evtx"
check rdpfile-ok 0 rdpfile lint mstsc.rdp
check rdpfile-broken 1 rdpfile lint --json broken.rdp
check host-check 0 host check --system SYSTEM
check logs 1 logs Security.evtx
echo "windows: $passed passed, $failed failed"
[ "$failed" = 0 ]
