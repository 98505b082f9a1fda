#!/usr/bin/env bash
# Cross-builds rdp-doctor for Windows (x86_64-pc-windows-gnu) and runs it
# under Wine: the Windows build must give the same answers as the Linux one,
# and `host check|fix|undo --live` must read and change Wine's own registry as
# `reg query` sees it, with the findings and plan the Linux build makes from an
# offline hive holding the same values.
# Needs gcc-mingw-w64-x86-64, wine64 and libhivex-bin (scripts/deps/apt.txt),
# python3, and the rustup target x86_64-pc-windows-gnu (added here when rustup
# is present).
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

# --- The live Windows path: Wine's registry and Service Control Manager. ---
ok() { passed=$((passed + 1)); }
bad() { # name, details...
    failed=$((failed + 1))
    echo "FAILED windows $1"
    shift
    [ $# = 0 ] || printf '%s\n' "$@" | head -30
}
expect() { # name, command...: the command must succeed (its last line is shown)
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok
        [ -z "$out" ] || echo "windows $name: $(tail -n 1 <<<"$out")"
    else
        bad "$name" "$out"
    fi
}
wreg() { timeout 60 "$wine" reg "$@" 2>&1 | tr -d '\r'; }
# The Windows release zip: the program, the README and the licenses, in a
# folder named after the version.
version=$("$tdir/debug/rdp-doctor" --version | awk '{print $2}')
name="rdp-doctor-$version-$target"
mkdir -p "$tdir/dist" "$work/$name"
rm -f "$tdir/dist/$name.zip"
cp "$tdir/$target/debug/rdp-doctor.exe" README.md LICENSE-MIT LICENSE-APACHE "$work/$name/"
(cd "$work" && zip -q -r -X "$tdir/dist/$name.zip" "$name")
listed=$(unzip -Z1 "$tdir/dist/$name.zip" | sort | tr '\n' ' ')
want="$name/ $name/LICENSE-APACHE $name/LICENSE-MIT $name/README.md $name/rdp-doctor.exe "
if [ "$listed" = "$want" ] && unzip -tq "$tdir/dist/$name.zip" >/dev/null; then
    ok
    echo "windows zip: $tdir/dist/$name.zip"
else
    bad zip "lists: $listed" "want:  $want"
fi
live() { # expected exit code, name, rdp-doctor args... (stdout in $work/NAME.out)
    local want=$1 name=$2 rc
    shift 2
    if (cd "$work" && timeout 120 "$wine" ./rdp-doctor.exe "$@" 2>"$work/$name.err" | tr -d '\r') >"$work/$name.out"; then
        rc=0
    else
        rc=$?
    fi
    if [ "$rc" = "$want" ]; then ok; else bad "$name: exit $rc, want $want" "$(cat "$work/$name.out" "$work/$name.err")"; fi
}
regtool() { python3 crates/testing/wine/regtool.py "$@"; }
offline() { # SYSTEM hive, .reg files...: writes the .reg files' SYSTEM values into the hive
    local hive=$1
    shift
    regtool hivexsh "$hive" "$@" >"$hive.hivexsh" && hivexsh -w -f "$hive.hivexsh" "$hive"
}
ccs='HKLM\SYSTEM\CurrentControlSet'
ts="$ccs\\Control\\Terminal Server"
term="$ccs\\Services\\TermService"
schannel="$ccs\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server"
fw="$ccs\\Services\\SharedAccess\\Parameters\\FirewallPolicy"
snapshot() { # every value under the keys the fix touches, as reg query prints them
    local k
    for k in "$ts" "$term" "$fw"; do wreg query "$k" /s || true; done
}
seed=crates/testing/wine/rdp-system.reg
break=crates/testing/wine/rdp-break.reg
cert_path="$ts\\WinStations\\RDP-Tcp\\SSLCertificateSHA1Hash"

# The host crate's tests on Windows: the Win32 registry and SCM calls on a
# scratch key under HKLM\SOFTWARE, and the applier's backup/verify/rollback.
host_test=$(cargo test --locked -q -p rdp-doctor-host --target "$target" --lib --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')
if [ -n "$host_test" ] && cp "$host_test" "$work/host-tests.exe" &&
    out=$(cd "$work" && timeout 300 "$wine" ./host-tests.exe live:: 2>&1 | tr -d '\r') &&
    grep -q 'live::tests::win::apply_and_undo_on_the_live_registry \.\.\. ok' <<<"$out" &&
    grep -q '^test result: ok' <<<"$out"; then
    ok
    grep '^test result' <<<"$out" | sed 's/^/windows host tests under Wine: /'
else
    bad host-live-unit-tests "${out:-the tests of rdp-doctor-host did not build for $target}"
fi

# Seed a healthy Remote Desktop configuration, and the key file HOST017 looks for.
cp "$seed" "$break" "$work/"
(cd "$work" && timeout 60 "$wine" reg import rdp-system.reg 2>&1) || bad seed-import
guid=$(wreg query 'HKLM\SOFTWARE\Microsoft\Cryptography' /v MachineGuid | awk '$1 == "MachineGuid" {print $3}')
keys="$WINEPREFIX/drive_c/ProgramData/Microsoft/Crypto/RSA/MachineKeys"
mkdir -p "$keys" && head -c 2048 /dev/urandom >"$keys/f686aace6942fb7f7ceb231212eef4a4_$guid"

# check --live reports what reg query shows, and what the Linux build finds in
# an offline hive holding the same values (HOST013 also reads SOFTWARE, which
# has no offline copy here).
live 0 live-healthy host check --live --json
for k in "$ts" "$ts\\WinStations\\RDP-Tcp" "$term" "$schannel"; do wreg query "$k" || true; done >"$work/query.txt"
expect live-matches-reg-query regtool query-matches "$work/live-healthy.out" "$work/query.txt" "$seed"
# The listener's certificate is found in the Remote Desktop store (SOFTWARE),
# and the key container on C:.
expect live-reads-cert-store python3 -c 'import json, sys
sys.path.insert(0, "crates/testing/wine")
from regtool import checks
status = {c["id"]: (c["status"], c["value"]) for c in checks(sys.argv[1])}
assert status["HOST013"][0] == "ok", status["HOST013"]
assert status["HOST016"] == ("info", sys.argv[2]), status["HOST016"]
assert status["HOST017"][0] == "ok", status["HOST017"]' "$work/live-healthy.out" CDA1B14F42C42129CEE2283CC219230DF5789DE4
# Who may log on, live (--user): LSA and NetApi answer under Wine, where
# LsaEnumerateAccountsWithUserRight and NetLocalGroupGetMembers are stubs that
# find nobody (so HOST023 fails) and NetUserGetInfo has level 1, not 3.
live 1 live-accounts host check --live --json --user "$(id -un)"
expect live-accounts-read python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
found = {f["id"] for f in r["findings"]}
assert "HOST023" in found, found
passed = {p["id"]: p["path"] for p in r["passed"]}
assert passed["HOST025"] == "NetUserGetInfo(" + sys.argv[2] + ", 1)", passed' "$work/live-accounts.out" "$(id -un)"
xz -dc crates/regf/tests/data/regipy_SYSTEM_win7_32bit.xz >"$work/SYSTEM.seeded"
expect offline-seed offline "$work/SYSTEM.seeded" "$seed"
"$tdir/debug/rdp-doctor" host check --json --system "$work/SYSTEM.seeded" >"$work/offline-healthy.json" || true
expect same-findings-healthy regtool same-findings "$work/live-healthy.out" "$work/offline-healthy.json" "$seed" "--except=$cert_path"

# Break it: Remote Desktop off, TermService disabled, firewall on with no rule.
(cd "$work" && timeout 60 "$wine" reg import rdp-break.reg 2>&1) || bad break-import
live 1 live-broken host check --live --json
for p in "$ts\\fDenyTSConnections" "$term\\Start" "$fw\\FirewallRules"; do
    expect "live-names-${p##*\\}" regtool check-status "$work/live-broken.out" "$p" fail
done
live 1 live-broken-text host check --live
expect live-text-names-it grep -q '\[HOST001\] error Remote Desktop is turned off' "$work/live-broken-text.out"
# diagnose --live: the live registry is evidence like a hive; with the code the
# client showed and no target, the broken settings rank first.
live 1 live-diagnose diagnose --live --json --code 0x904 0x7
expect live-diagnose-ranks python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "rdp-doctor.diagnose/v2", d["schema"]
assert "host" in d["sources"], d["sources"]
# Both breaks are errors of the host: Remote Desktop off and TermService
# disabled (under Wine the key store adds a certificate finding of its own).
top = [c["cause"] for c in d["causes"][:3]]
assert {"remote_desktop_disabled", "service_or_listener_down"} <= set(top), [(c["cause"], c["score"]) for c in d["causes"]]
ev = [e for c in d["causes"][:3] for s in c["for"] for e in s["evidence"] if e["source"] == "registry"]
assert ev and all(e["origin"] == {"kind": "live"} for e in ev), ev' "$work/live-diagnose.out"
cp "$work/SYSTEM.seeded" "$work/SYSTEM.broken"
expect offline-break offline "$work/SYSTEM.broken" "$break"
"$tdir/debug/rdp-doctor" host check --json --system "$work/SYSTEM.broken" >"$work/offline-broken.json" || true
expect same-findings-broken regtool same-findings "$work/live-broken.out" "$work/offline-broken.json" "$seed" "$break" "--except=$cert_path"

# fix --live is a dry run: the same plan as offline, and nothing changes.
snapshot >"$work/before.txt"
live 1 fix-dry-json host fix --live --json
"$tdir/debug/rdp-doctor" host fix --json --system "$work/SYSTEM.broken" >"$work/offline-plan.json" || true
expect same-plan-as-offline regtool same-actions "$work/fix-dry-json.out" "$work/offline-plan.json"
live 1 fix-dry host fix --live
snapshot >"$work/after-dry.txt"
expect dry-run-changes-nothing cmp "$work/before.txt" "$work/after-dry.txt"
expect dry-run-no-backup test ! -e "$work/backup"

# fix --live --apply: backup, write, read back, re-check.
live 0 fix-apply host fix --live --apply --backup-dir backup
expect fix-wrote-deny grep -q 'fDenyTSConnections    REG_DWORD    0x0$' <(wreg query "$ts" /v fDenyTSConnections)
expect fix-wrote-start grep -q 'Start    REG_DWORD    0x3$' <(wreg query "$term" /v Start)
expect fix-added-rule grep -q 'REG_SZ    v2\.' <(wreg query "$fw\\FirewallRules")
expect backup-manifest grep -q '"schema": "rdp-doctor.host-live-backup/v1"' "$work/backup/manifest.json"
live 0 live-fixed host check --live --json
for p in "$ts\\fDenyTSConnections" "$term\\Start" "$fw\\FirewallRules"; do
    expect "live-fixed-${p##*\\}" regtool check-status "$work/live-fixed.out" "$p" ok
done

# undo restores the broken values exactly, and deletes the rule (and its key)
# that did not exist.
live 0 undo host undo backup
snapshot >"$work/after-undo.txt"
expect undo-restores-exactly cmp "$work/before.txt" "$work/after-undo.txt"
expect undo-deleted-new-value grep -q 'Unable to find' <(wreg query "$fw\\FirewallRules")
live 0 undo-again host undo backup
expect undo-again-changes-nothing grep -q '^already original: .*fDenyTSConnections = 0x00000001 (1)$' "$work/undo-again.out"
live 1 still-broken host check --live

# --- The client side, live: the TCP-only policy set, read back, undone. ---
cpol='HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\Client'
wreg delete "$cpol" /v fClientDisableUDP /f >/dev/null 2>&1 || true
client_title() { # file: CLIENT001's title
    python3 -c 'import json, sys
print({f["id"]: f["title"] for f in json.load(open(sys.argv[1]))["findings"]}["CLIENT001"])' "$1"
}
live 0 client-live client check --live --json
expect client-live-no-policy grep -q 'no client transport policy' <(client_title "$work/client-live.out")
live 0 client-fix-live client fix --live --tcp-only --apply --backup-dir client-backup
expect client-fix-wrote grep -q 'fClientDisableUDP    REG_DWORD    0x1$' <(wreg query "$cpol" /v fClientDisableUDP)
expect client-backup-manifest grep -q '"schema": "rdp-doctor.host-live-backup/v1"' "$work/client-backup/manifest.json"
live 0 client-live-tcp client check --live --json
expect client-live-reads-tcp-only grep -q 'TCP only' <(client_title "$work/client-live-tcp.out")
live 0 client-undo client undo client-backup
if wreg query "$cpol" /v fClientDisableUDP | grep -q REG_DWORD; then bad client-undo-removes-policy; else ok; fi

# host collect under Wine: reg save writes Wine's own text format, not a regf
# hive, so SYSTEM and SOFTWARE are the keys the checks read, copied through
# the registry API into new hives (marked partial); the logs are listed as
# left out, with the stub wevtutil Wine ships and without any. Remote Desktop is off beforehand: the Linux
# build must find it in the collected folder. Each file's SHA-256 is as the
# manifest says.
wreg add "$ts" /v fDenyTSConnections /t REG_DWORD /d 1 /f >/dev/null
live 0 host-collect host collect -o collected
expect host-collect-manifest python3 -c 'import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["schema"] == "rdp-doctor.host-collect/v1", m["schema"]
for i in m["items"]:
    assert hashlib.sha256(open(os.path.join(d, i["path"]), "rb").read()).hexdigest() == i["sha256"], i
items = {i["path"]: i for i in m["items"]}
for h in ("hives/SYSTEM", "hives/SOFTWARE"):
    assert h in items, (h, sorted(items), m["left_out"])
    assert items[h]["partial"].startswith("selected keys, read through the registry API"), items[h]
    # Why reg save was not used: what it wrote, or its failure.
    assert "reg wrote a file that is not a regf hive" in items[h]["partial"] or "reg failed" in items[h]["partial"], items[h]
# Wine ships wevtutil as a stub: it succeeds and writes nothing, for every log alike.
why = [l["why"] for l in m["left_out"] if l["what"].startswith("the event log")]
assert why == ["wevtutil reported success but wrote no file"], m["left_out"]
assert any("private keys" in l["what"] for l in m["left_out"])
print("collected", sorted(items), "left out", len(m["left_out"]), "| SYSTEM:", items["hives/SYSTEM"]["partial"])' "$work/collected"
expect collect-progress-silent test ! -s "$work/host-collect.err"
# Without wevtutil at all, one line says so for every log.
sys32="$WINEPREFIX/drive_c/windows/system32"
mv "$sys32/wevtutil.exe" "$work/wevtutil.exe.aside"
live 0 host-collect-no-wevtutil host collect -o collected-no-wevtutil
mv "$work/wevtutil.exe.aside" "$sys32/wevtutil.exe"
expect host-collect-no-wevtutil-said python3 -c 'import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
logs = [l for l in m["left_out"] if l["what"].startswith("the event log")]
assert len(logs) == 1 and logs[0]["why"] == "wevtutil is missing on this system", m["left_out"]
assert "Security" in logs[0]["what"] and "System" in logs[0]["what"], logs' "$work/collected-no-wevtutil"
# Both hives are regf hives an independent reader (hivex) opens, holding the
# live values: Remote Desktop off in the control set Select names, the machine's GUID.
collected_value() { # hive, key, value
    hivexget "$work/collected/hives/$1" "$2" "$3"
}
cs=$(collected_value SYSTEM '\Select' Current || echo none)
expect collected-system-hivex test "$(collected_value SYSTEM "\\ControlSet$(printf %03d "$cs")\\Control\\Terminal Server" fDenyTSConnections)" = 1
expect collected-software-hivex test "$(collected_value SOFTWARE '\Microsoft\Cryptography' MachineGuid)" = "$guid"
native() { # expected exit code, name, rdp-doctor args... (the Linux build; stdout in $work/NAME.out)
    local want=$1 name=$2 rc
    shift 2
    if (cd "$work" && "$tdir/debug/rdp-doctor" "$@" >"$work/$name.out" 2>"$work/$name.err"); then rc=0; else rc=$?; fi
    if [ "$rc" = "$want" ]; then ok; else bad "$name: exit $rc, want $want" "$(cat "$work/$name.out" "$work/$name.err")"; fi
}
# The Linux build reads the folder as a rescued disk: HOST001 from the hive.
native 1 collected-check host check --collected collected --json
expect collected-check-finds-host001 python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
found = {f["id"]: f for f in r["findings"]}
assert "HOST001" in found, sorted(found)
ev = [e for e in found["HOST001"]["evidence"] if e["source"] == "registry"]
assert ev and all(e["origin"]["kind"] == "hive" for e in ev), ev' "$work/collected-check.out"
native 1 collected-diagnose diagnose --collected collected --format json
expect collected-diagnose-ranks python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
top = [c["cause"] for c in d["causes"][:3]]
assert "remote_desktop_disabled" in top, [(c["cause"], c["score"]) for c in d["causes"]]' "$work/collected-diagnose.out"

# Elsewhere --live says where to run it (exit 2).
if out=$("$tdir/debug/rdp-doctor" host check --live 2>&1); then rc=0; else rc=$?; fi
if [ "$rc" = 2 ] && [ "$out" = "rdp-doctor: host check --live reads the Windows registry: run it on the Windows host, or give --system HIVE" ]; then
    ok
else
    bad "linux-live-usage: exit $rc" "$out"
fi

# The Windows-only code of the host crate and the CLI passes clippy too.
expect clippy-windows cargo clippy --locked -q --target "$target" -p rdp-doctor-host -p rdp-doctor-client -p rdp-doctor -- -D warnings

echo "windows: $passed passed, $failed failed"
[ "$failed" = 0 ]
