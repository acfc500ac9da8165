#!/bin/sh
# install-deps.sh - install the Debian packages goc's build needs, once.
#   tools/install-deps.sh          build + test needs (cc, cmake, make,
#                                  clang-format for make check; nginx-light
#                                  and openssl for the HTTP tests, libssl-dev
#                                  for https)
#   tools/install-deps.sh bench    also Go (golang-go), wrk, ab, liburing-dev
#                                  (apache2-utils) and hey for `make bench`
#   tools/install-deps.sh package  also dpkg-dev (dpkg-shlibdeps), binutils
#                                  (nm, readelf), libc6-dev (libc.a, for the
#                                  static link) for `make deb`, package-test
#   tools/install-deps.sh browser  also Chromium, for the HTML report's
#                                  browser test (tests/browser/)
#   tools/install-deps.sh mpi      also Open MPI (libopenmpi-dev,
#                                  openmpi-bin), for goc-loadgen across
#                                  ranks and its tests (docs/mpi.md)
# Installs only what is missing; needs root (or sudo) only then.
set -e
need="gcc make cmake pkg-config clang-format nginx-light openssl libssl-dev"
case "${1:-}" in
    # g++, libck-dev, libtbb-dev: bench_cmap's rivals (ck_hs, oneTBB);
    # liburing-dev: bench_epoll_echo's io_uring floor.
    bench) need="$need golang-go wrk apache2-utils hey g++ libck-dev libtbb-dev liburing-dev" ;;
    fuzz) need="$need clang" ;;
    package) need="$need dpkg-dev binutils libc6-dev" ;;
    browser) need="$need chromium" ;;
    mpi) need="$need libopenmpi-dev openmpi-bin" ;;
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
