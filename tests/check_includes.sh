#!/bin/sh
# tests/check_includes.sh - module boundaries: no file under src/ includes
# another module's private header. A module (src/<module>/) may include
# its own headers, the public ones (goc/...), and the internal interface
# headers other modules publish for it, listed here (docs/design.md,
# Module boundaries, says what each offers). Exit 1 and name each
# offending include otherwise.
#
# usage: tests/check_includes.sh [SRC_DIR]   (default: src next to tests/)
INTERFACES="
runtime/runtime_internal.h
runtime/primitives.h
netpoll/poller.h
netpoll/pollfd.h
netpoll/uring_io.h
chan/chan_iface.h
chan/chan_layout.h
calc/calc_proto.h
loadgen/caller_pipe.h
"
SRC=${1:-$(dirname "$0")/../src}
bad=0
for f in "$SRC"/*/*.c "$SRC"/*/*.h "$SRC"/*/*.S; do
    [ -f "$f" ] || continue
    mod=$(basename "$(dirname "$f")")
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case $inc in
        goc/* | goc.h | "$mod"/*) continue ;;
        esac
        if ! printf '%s\n' $INTERFACES | grep -qx "$inc"; then
            echo "$f: includes $inc, private to module ${inc%%/*}"
            bad=1
        fi
    done
done
[ $bad = 0 ] && echo "check_includes: every cross-module include is an interface header"
exit $bad
