#!/bin/sh
# deb_test.sh - `make deb`, the three packages installed with dpkg -i, the
# README's example built against the system install (pkg-config shared and
# static, CMake find_package) and run, the tools run, then apt-get remove
# and a check that nothing of goc is left.
#
#   tests/package/deb_test.sh BUILD    (BUILD: the Makefile's BUILD)
#
# It installs into /usr, so it runs only as root on a machine with dpkg
# and apt-get, and only where no goc is installed already (it would not
# know what to put back); otherwise it says why it skips. The packages
# are removed on every way out.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/package/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$(cd "$1" && pwd)
make=${MAKE:-make}
cc=${CC:-cc}
pkgs="goc-tools libgoc-dev libgoc0"

skip() {
    echo "SKIP deb_test: $* (the .deb packages were not tested)"
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root to install packages"
for t in dpkg dpkg-query apt-get; do
    command -v $t >/dev/null 2>&1 || skip "no $t here"
done

# The packages of ours that dpkg knows in any state but not-installed.
known_pkgs() {
    for p in $pkgs; do
        s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        case "$s" in "" | un*) ;; *) echo "$p" ;; esac
    done
}
# Whatever of goc is in the system folders (files, the loader's cache).
goc_on_system() {
    known_pkgs | sed 's/^/package /'
    find /usr/include /usr/lib /usr/bin /usr/share/man /usr/share/doc \
        \( -name 'goc.h' -o -name 'libgoc*' -o -name 'goc-*' -o -name 'goc.pc' \
        -o -path '*/cmake/goc' -o -path '*/include/goc' \) -print 2>/dev/null || true
    ldconfig -p | grep -F libgoc || true
}
# One deb_test at a time on a machine: the packages are system-wide, so a
# second `make test` beside this one waits here (up to 15 minutes) instead
# of installing or removing them under it. The lock goes with the process.
if command -v flock >/dev/null 2>&1; then
    exec 9>>/tmp/goc-deb-test.lock
    flock -w 900 9 || skip "another deb_test held /tmp/goc-deb-test.lock for 15 minutes"
fi
before=$(goc_on_system)
[ -z "$before" ] || skip "goc is installed already: $before"

tmp=$(mktemp -d)
installed=0
# dpkg and apt-get wait (up to 2 minutes) for a lock another process holds.
dpkg_retry() {
    n=0
    until "$@" >"$tmp/dpkg.log" 2>&1; do
        n=$((n + 1))
        if [ $n -ge 60 ] || ! grep -qi 'lock' "$tmp/dpkg.log"; then
            cat "$tmp/dpkg.log" >&2
            return 1
        fi
        sleep 2
    done
}
remove_pkgs() {
    p=$(known_pkgs)
    [ -z "$p" ] && return 0
    # shellcheck disable=SC2086
    dpkg_retry env DEBIAN_FRONTEND=noninteractive apt-get remove -y \
        -o DPkg::Lock::Timeout=120 $p
}
cleanup() {
    if [ $installed -eq 1 ]; then
        remove_pkgs || echo "deb_test: could not remove $pkgs" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

echo "deb_test: make deb"
$make -s -C "$root" deb BUILD="$build" >"$tmp/deb.log" 2>&1 ||
    { cat "$tmp/deb.log" >&2; fail "make deb"; }
debs=""
for p in $pkgs; do
    d=""
    for f in "$build/deb/${p}"_*.deb; do
        [ -e "$f" ] && d=$f
    done
    [ -n "$d" ] || fail "make deb built no $p package"
    debs="$debs $d"
done
for d in $debs; do
    step "$(basename "$d"): $(dpkg-deb -f "$d" Depends)"
done

step "dpkg -i"
installed=1
# shellcheck disable=SC2086
dpkg_retry dpkg -i $debs || fail "dpkg -i"
ldconfig -p | grep -q 'libgoc\.so\.0 ' || fail "libgoc.so.0 is not in the loader's cache"

readme_example "$tmp/app.c"
step "pkg-config, shared, against the system install"
# shellcheck disable=SC2046
$cc -o "$tmp/app_shared" "$tmp/app.c" $(pkg-config --cflags --libs goc) ||
    fail "cc app.c \$(pkg-config --cflags --libs goc)"
needs_lib "$tmp/app_shared" libgoc.so || fail "app_shared does not need libgoc.so"
run_example "$tmp/app_shared"
step "pkg-config --static"
# shellcheck disable=SC2046
$cc -static -o "$tmp/app_static" "$tmp/app.c" $(pkg-config --cflags --static --libs goc) \
    2>"$tmp/static.log" || { cat "$tmp/static.log" >&2; fail "static link"; }
run_example "$tmp/app_static"
step "CMake find_package"
cmake -S "$root/tests/package/app" -B "$tmp/cm" -DGOC_APP_SOURCE="$tmp/app.c" \
    >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log" >&2; fail "configure against /usr"; }
cmake --build "$tmp/cm" >"$tmp/cmb.log" 2>&1 ||
    { cat "$tmp/cmb.log" >&2; fail "build against /usr"; }
run_example "$tmp/cm/app"
run_example "$tmp/cm/app_static"
step "tools"
for t in goc-loadgen goc-calcserver; do
    [ -x "/usr/bin/$t" ] || fail "goc-tools did not install /usr/bin/$t"
    "/usr/bin/$t" --help >/dev/null 2>&1 || fail "$t --help failed"
done
# The TLS plugin (lib/goc/goc-loadgen-tls.so) ships and loads.
if [ -e "$build/release/tools/goc-loadgen-tls.so" ]; then
    out=$(/usr/bin/goc-loadgen -n 1 -t 2s https://127.0.0.1:1/ 2>&1) || true
    case $out in
    *"connect refused"*) ;;
    *) echo "$out" >&2; fail "goc-loadgen from goc-tools cannot make an https:// call" ;;
    esac
fi

step "apt-get remove"
remove_pkgs || fail "apt-get remove $pkgs"
installed=0
left=$(goc_on_system)
[ -z "$left" ] || fail "left on the system after removal: $left"
echo "deb_test: passed"
