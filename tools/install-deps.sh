#!/bin/sh
# install-deps.sh - install the Debian packages goc's build needs, once.
#   tools/install-deps.sh          build + test needs (cc, cmake, make)
#   tools/install-deps.sh bench    also Go (golang-go) and wrk for `make bench`
#   tools/install-deps.sh browser  also Chromium, for the HTML report's
#                                  browser test (tests/browser/)
# Installs only what is missing; needs root (or sudo) only then.
set -e
need="gcc make cmake pkg-config"
case "${1:-}" in
    bench) need="$need golang-go wrk" ;;
    fuzz) need="$need clang" ;;
    browser) need="$need chromium" ;;
esac
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing
