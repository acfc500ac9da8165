# shellcheck shell=sh
# lib.sh - shared by the packaging tests (sourced; they set $root, the
# source tree).

# The README's example: its first ```c block, written to $1.
readme_example() {
    # shellcheck disable=SC2154
    awk '/^```c$/ { if (!done) on = 1; next }
         /^```/ { if (on) done = 1; on = 0; next }
         on' "$root/README.md" >"$1"
    grep -q 'goc_main' "$1" || fail "no example found in README.md"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

t0=$(date +%s)
step() {
    echo "  [$(($(date +%s) - t0)) s] $*"
}

# Run a built example: it must exit 0.
run_example() {
    "$1" || fail "$1 exited with status $?"
}

# Whether ELF file $1 needs a shared library whose name starts with $2.
needs_lib() {
    readelf -d "$1" 2>/dev/null | grep -q "(NEEDED).*\[$2"
}
