#!/bin/sh
# The whole test suite, as CI runs it: dependencies, a clean build with
# `make check` (unit, conformance, end-to-end, corpus), the one-file build
# (--enable-static-plugins), the same suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, and `make distcheck`.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
sh scripts/deps.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
jobs=$(nproc)

step() { printf '\n==== %s\n' "$*"; }

show_failures() {
    # Print the logs of failed tests so CI output explains itself.
    for f in $(find "$1" -name '*.trs' 2>/dev/null); do
        if grep -q ':test-result: FAIL\|:test-result: ERROR' "$f"; then
            echo "---- ${f%.trs}.log"; cat "${f%.trs}.log"
        fi
    done
}

step "build and make check"
rm -rf "$top/_build/plain" && mkdir -p "$top/_build/plain" && cd "$top/_build/plain"
"$top/configure" --quiet
make -j"$jobs" --quiet
make -j"$jobs" check || { show_failures .; exit 1; }

step "install, then build and use a plugin made only from the installed SDK"
RN_BUILDDIR="$top/_build/plain" RN_SRCDIR="$top" bash "$top/tests/cli/out_of_tree_plugin.sh"

step "--enable-static-plugins: one self-contained runnable"
bash "$top/tests/static/check.sh" "$top" "$top/_build/static"

step "sanitizer build (ASan + UBSan) and make check"
rm -rf "$top/_build/asan" && mkdir -p "$top/_build/asan" && cd "$top/_build/asan"
"$top/configure" --quiet --enable-sanitizers
make -j"$jobs" --quiet
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    make -j"$jobs" check || { show_failures .; exit 1; }

step "make distcheck"
cd "$top/_build/plain"
make -j"$jobs" distcheck >distcheck.log 2>&1 || { tail -50 distcheck.log; exit 1; }
echo "distcheck passed"

step "all tests passed"
