#!/bin/sh
# check_symbols.sh - what leaves libgoc.so is exactly the public API.
#
#   tests/package/check_symbols.sh LIBGOC_SO          check
#   tests/package/check_symbols.sh --update LIBGOC_SO rewrite abi/libgoc.symbols
#
# Fails when the shared library exports a name that is not goc_-prefixed
# public API (a goc__ internal, a name with "__", a helper without the
# prefix), when a name declared GOC_EXTERN in include/goc/*.h is not
# exported, when a public name defined in the libgoc.a beside it is not
# exported (its declaration lacks GOC_EXTERN), or when the exported list
# differs from the committed abi/libgoc.symbols (an accidental export or
# removal; see docs/install.md for the soname policy that a deliberate
# change follows).
set -eu
export LC_ALL=C
update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
[ $# -eq 1 ] || { echo "usage: $0 [--update] LIBGOC_SO" >&2; exit 2; }
lib=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
abi=$root/abi/libgoc.symbols
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols (functions and objects), version suffix removed.
nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' |
    sort -u >"$tmp/exported"
[ -s "$tmp/exported" ] || { echo "FAIL: no symbols read from $lib" >&2; exit 1; }

# Names the headers declare GOC_EXTERN: the identifier before the first
# "(" (a function) or ";" (an object) of each marked declaration. The
# preprocessor drops the comments; with extern.h's guard predefined the
# marker stays a plain word in its output.
for h in "$root"/include/goc/*.h; do
    ${CC:-cc} -E -P -D_GNU_SOURCE -DGOC_EXTERN_H -I"$root/include" "$h"
done | tr '\n' ' ' |
    grep -oE 'GOC_EXTERN[^;{}(]*[(;]' |
    sed -E 's/[[:space:]]*[(;]$//; s/.*[^A-Za-z0-9_]//' |
    sort -u >"$tmp/declared"

status=0
bad=$(grep -vE '^goc_[a-z0-9][a-z0-9_]*$' "$tmp/exported" | grep -v '__' || true)
bad="$bad$(grep '__' "$tmp/exported" || true)"
if [ -n "$bad" ]; then
    echo "FAIL: libgoc.so exports names that are not public goc_ API:" >&2
    echo "$bad" | sed 's/^/  /' >&2
    status=1
fi
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
if [ -n "$extra" ]; then
    echo "FAIL: exported but not declared GOC_EXTERN in include/goc/*.h:" >&2
    echo "$extra" | sed 's/^/  /' >&2
    status=1
fi
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$missing" ]; then
    echo "FAIL: declared GOC_EXTERN but not exported by the library:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
# A public name defined in the static library next to it (goc_, no "__")
# that the shared library does not export lacks its GOC_EXTERN.
archive=$(dirname "$lib")/libgoc.a
if [ -f "$archive" ]; then
    nm --defined-only -g "$archive" 2>/dev/null |
        awk 'NF == 3 && $2 ~ /^[BDRTVW]$/ { print $3 }' |
        grep -E '^goc_[a-z0-9][a-z0-9_]*$' | grep -v '__' | sort -u >"$tmp/archive"
    unmarked=$(comm -23 "$tmp/archive" "$tmp/exported")
    if [ -n "$unmarked" ]; then
        echo "FAIL: public names in libgoc.a that libgoc.so does not export (no GOC_EXTERN?):" >&2
        echo "$unmarked" | sed 's/^/  /' >&2
        status=1
    fi
fi
[ $status -eq 0 ] || exit 1

if [ $update -eq 1 ]; then
    {
        echo "# libgoc.so's exported symbols, one a line, sorted (C locale)."
        echo "# Checked by tests/package/check_symbols.sh; a deliberate change"
        echo "# is made with its --update and follows docs/install.md's soname"
        echo "# policy."
        cat "$tmp/exported"
    } >"$abi"
    echo "check_symbols: wrote $(wc -l <"$tmp/exported") symbols to abi/libgoc.symbols"
    exit 0
fi
grep -v '^#' "$abi" | sort -u >"$tmp/committed"
if ! cmp -s "$tmp/committed" "$tmp/exported"; then
    echo "FAIL: exported symbols differ from abi/libgoc.symbols" >&2
    comm -13 "$tmp/committed" "$tmp/exported" | sed 's/^/  added:   /' >&2
    comm -23 "$tmp/committed" "$tmp/exported" | sed 's/^/  removed: /' >&2
    echo "  (deliberate? $0 --update $lib, and see docs/install.md)" >&2
    exit 1
fi
echo "check_symbols: $(wc -l <"$tmp/exported") exported symbols, all public goc_ API, as abi/libgoc.symbols lists"
