#!/usr/bin/env bash
# Builds the Debian package target/debian/rdp-doctor_VERSION-1_ARCH.deb with
# cargo-deb (installed with cargo when absent): the program, its manual page,
# bash/zsh/fish completions, the Prometheus rules and the README
# ([package.metadata.deb] in crates/cli/Cargo.toml).
#   PROFILE=dev   package the test build (target/debug) instead of a release build
#   --check       then install the package with dpkg (as root), run the installed
#                 program, check its manual page and completion, and remove it
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
check=false
[ "${1:-}" = --check ] && check=true

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
cargo build --locked -q -p rdp-doctor --profile "$profile"
tdir=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
# The dev profile's output directory is named debug.
out=$profile
[ "$profile" != dev ] || out=debug
bin="$tdir/$out/rdp-doctor"
# Where the package's assets (crates/cli/Cargo.toml) expect them, whatever the target directory.
dist=target/dist
rm -rf "$dist/man" "$dist/completions"
mkdir -p "$dist/man" "$dist/completions"
"$bin" man | gzip -9n >"$dist/man/rdp-doctor.1.gz"
"$bin" completions bash >"$dist/completions/rdp-doctor"
"$bin" completions zsh >"$dist/completions/_rdp-doctor"
"$bin" completions fish >"$dist/completions/rdp-doctor.fish"
# --no-build: the binary above is the one packaged (for dev, the test build).
deb=$(cargo deb --locked -p rdp-doctor --no-build --profile "$profile" --fast -q)
echo "package: $deb"
$check || exit 0

if [ "$(id -u)" != 0 ]; then
    echo "package: installing the package needs root; not checked"
    [ -z "${CI:-}" ] || exit 1
    exit 0
fi
if dpkg-query -W -f='${Status}' rdp-doctor 2>/dev/null | grep -q "install ok installed"; then
    echo "package: an rdp-doctor package is installed already; not replacing it"
    exit 1
fi
trap 'dpkg -r rdp-doctor >/dev/null 2>&1 || true' EXIT
failed=0
fail() { echo "FAILED package: $*"; failed=1; }
installed=/usr/bin/rdp-doctor
dpkg -i "$deb" >/dev/null
explained=$("$installed" explain 0x904 0x7) || fail "explain exited $?"
grep -q 0x904 <<<"$explained" || fail "explain 0x904 0x7 printed: $explained"
version=$("$installed" --version)
[ "$version" = "$("$bin" --version)" ] || fail "--version printed: $version"
[ -f /usr/share/man/man1/rdp-doctor.1.gz ] || fail "no manual page"
page=$(MANWIDTH=80 man -P cat rdp-doctor 2>&1) || fail "man rdp-doctor: $page"
grep -q 'RDP-DOCTOR EXPLAIN' <<<"$page" || fail "man rdp-doctor shows no EXPLAIN section"
[ -f /usr/share/rdp-doctor/prometheus/rdp-doctor.rules.yml ] || fail "no Prometheus rules"
[ -f /usr/share/doc/rdp-doctor/README.md ] || fail "no README"
# The installed completion loads as bash-completion would load it.
completion=$(bash -c 'source /usr/share/bash-completion/completions/rdp-doctor && complete -p rdp-doctor') ||
    fail "the bash completion does not load"
grep -q 'rdp-doctor$' <<<"$completion" || fail "bash completion: $completion"
dpkg -r rdp-doctor >/dev/null
[ ! -e "$installed" ] || fail "dpkg -r left $installed"
trap - EXIT
[ "$failed" = 0 ] && echo "package: installed, ran and removed $deb"
[ "$failed" = 0 ]
