#!/bin/sh
# install_test.sh - `make install` into a temporary prefix with DESTDIR
# staging, the README's example built against it three ways and run, then
# `make uninstall` leaving nothing behind, not even the folders it made.
#
#   tests/package/install_test.sh BUILD    (BUILD: the Makefile's BUILD)
#
# 1. pkg-config, shared: cc app.c $(pkg-config --cflags --libs goc)
# 2. pkg-config, static: cc -static app.c $(pkg-config --cflags --static --libs goc)
# 3. CMake: find_package(goc CONFIG REQUIRED), goc::goc (shared) and
#    goc::goc_static; a request for another major version is refused.
# Also a program with goc as a FetchContent subproject (add_subdirectory).
# Nothing outside a temporary folder is written except BUILD/release's
# install manifests, put back as they were, and BUILD/package-fetch.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/package/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$(cd "$1" && pwd)
make=${MAKE:-make}
cc=${CC:-cc}
tmp=$(mktemp -d)
manifests="install_manifest.txt install_manifest_dirs.txt"
for m in $manifests; do
    [ -f "$build/release/$m" ] && cp "$build/release/$m" "$tmp/$m.saved"
done
cleanup() {
    for m in $manifests; do
        if [ -f "$tmp/$m.saved" ]; then
            cp "$tmp/$m.saved" "$build/release/$m"
        else
            rm -f "$build/release/$m"
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
prefix=/opt/goc-test
stage=$tmp/stage
inst=$stage$prefix
readme_example "$tmp/app.c"

echo "install_test: make install PREFIX=$prefix DESTDIR=$stage"
$make -s -C "$root" install BUILD="$build" PREFIX="$prefix" DESTDIR="$stage" \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install"; }
for f in include/goc.h include/goc/extern.h lib/libgoc.a lib/libgoc.so \
    lib/pkgconfig/goc.pc lib/cmake/goc/gocConfig.cmake \
    lib/cmake/goc/gocConfigVersion.cmake bin/goc-loadgen; do
    [ -e "$inst/$f" ] || fail "make install did not install $f"
done
# goc-loadgen's TLS plugin (built where OpenSSL is): installed in
# lib/goc and found from the staged (moved) program: an https:// call to a
# closed port fails to connect instead of failing to load the plugin.
if [ -e "$build/release/tools/goc-loadgen-tls.so" ]; then
    [ -e "$inst/lib/goc/goc-loadgen-tls.so" ] ||
        fail "make install did not install lib/goc/goc-loadgen-tls.so"
    out=$("$inst/bin/goc-loadgen" -n 1 -t 2s https://127.0.0.1:1/ 2>&1) || true
    case $out in
    *"connect refused"*) ;;
    *) echo "$out" >&2; fail "the installed goc-loadgen cannot make an https:// call" ;;
    esac
fi
soname=$(readelf -d "$inst/lib/libgoc.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -e "$inst/lib/$soname" ] || fail "no $soname next to libgoc.so"
"$root/tests/package/check_symbols.sh" "$inst/lib/$soname"

# pkg-config sees only the staged tree (PKG_CONFIG_LIBDIR replaces the
# default search path), and its goc.pc finds the prefix by itself.
export PKG_CONFIG_LIBDIR="$inst/lib/pkgconfig"
unset PKG_CONFIG_PATH || true
libdir=$(pkg-config --variable=libdir goc)
[ "$(cd "$libdir" && pwd)" = "$(cd "$inst/lib" && pwd)" ] ||
    fail "goc.pc's libdir $libdir is not the staged $inst/lib"

step "pkg-config, shared"
# shellcheck disable=SC2046
$cc -o "$tmp/app_shared" "$tmp/app.c" $(pkg-config --cflags --libs goc) \
    -Wl,-rpath,"$libdir" || fail "cc app.c \$(pkg-config --cflags --libs goc)"
needs_lib "$tmp/app_shared" libgoc.so || fail "app_shared does not need libgoc.so"
loaded=$(ldd "$tmp/app_shared" | awk -v s="$soname" '$1 == s { print $3 }')
if [ -z "$loaded" ] ||
    [ "$(readlink -f "$loaded")" != "$(readlink -f "$inst/lib/$soname")" ]; then
    fail "app_shared loads $soname from '$loaded', not from $inst/lib"
fi
run_example "$tmp/app_shared"

step "pkg-config --static"
static_libs=$(pkg-config --static --libs goc)
case " $static_libs " in
*" -pthread "*) ;;
*) fail "pkg-config --static --libs goc lacks -pthread: $static_libs" ;;
esac
# shellcheck disable=SC2046,SC2086
$cc -static -o "$tmp/app_static" "$tmp/app.c" $(pkg-config --cflags goc) \
    $static_libs 2>"$tmp/static.log" || { cat "$tmp/static.log" >&2; fail "static link"; }
readelf -d "$tmp/app_static" 2>/dev/null | grep -q NEEDED &&
    fail "app_static needs shared libraries"
run_example "$tmp/app_static"

step "CMake find_package(goc CONFIG REQUIRED)"
unset PKG_CONFIG_LIBDIR
cmake -S "$root/tests/package/app" -B "$tmp/cm" -DGOC_APP_SOURCE="$tmp/app.c" \
    -DCMAKE_PREFIX_PATH="$inst" -DGOC_APP_VERSION=0.1 >"$tmp/cm.log" 2>&1 ||
    { cat "$tmp/cm.log" >&2; fail "configure against the installed package"; }
grep -q "goc 0.1.0 from $inst/lib/cmake/goc" "$tmp/cm.log" ||
    fail "find_package did not find the staged package: $(grep goc_app "$tmp/cm.log")"
cmake --build "$tmp/cm" >"$tmp/cmb.log" 2>&1 ||
    { cat "$tmp/cmb.log" >&2; fail "build against the installed package"; }
needs_lib "$tmp/cm/app" libgoc.so || fail "goc::goc is not the shared library"
needs_lib "$tmp/cm/app_static" libgoc.so && fail "goc::goc_static needs libgoc.so"
run_example "$tmp/cm/app"
run_example "$tmp/cm/app_static"
if cmake -S "$root/tests/package/app" -B "$tmp/cm1" -DGOC_APP_SOURCE="$tmp/app.c" \
    -DCMAKE_PREFIX_PATH="$inst" -DGOC_APP_VERSION=1 >"$tmp/cm1.log" 2>&1; then
    fail "find_package(goc 1) accepted version 0.1.0 (SameMajorVersion)"
fi

# This one compiles the library again: in BUILD/package-fetch, kept, so
# that a rerun compiles only what changed.
step "CMake FetchContent (add_subdirectory)"
fc=$build/package-fetch
mkdir -p "$fc"
cmp -s "$tmp/app.c" "$fc/app.c" || cp "$tmp/app.c" "$fc/app.c"
cmake -S "$root/tests/package/app" -B "$fc" -DGOC_APP_SOURCE="$fc/app.c" \
    -DGOC_APP_MODE=fetch -DGOC_APP_GOC_SOURCE="$root" >"$tmp/fc.log" 2>&1 ||
    { cat "$tmp/fc.log" >&2; fail "configure with goc as a subproject"; }
cmake --build "$fc" -j "${JOBS:-2}" >"$tmp/fcb.log" 2>&1 ||
    { cat "$tmp/fcb.log" >&2; fail "build with goc as a subproject"; }
[ -e "$fc/_deps/goc-build/goc_tests" ] && fail "the subproject built goc's tests"
run_example "$fc/app"
run_example "$fc/app_static"

step "make uninstall"
$make -s -C "$root" uninstall BUILD="$build" DESTDIR="$stage" >"$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
[ -e "$stage" ] && fail "make uninstall left: $(find "$stage")"
echo "install_test: passed"
