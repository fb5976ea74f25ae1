#!/bin/bash
# End to end: a third party builds a plugin against the *installed* SDK and
# the *installed* runnable uses it.
#
#  1. install the build tree into a staging DESTDIR;
#  2. build examples/out-of-tree-plugin with nothing but pkg-config pointed
#     at the staged runnable-plugin.pc (so a missing header, library or
#     pkg-config variable in the install shows up here, not at a user's);
#  3. install the plugin into a folder of its own;
#  4. run the staged `runnable execute` on the example pipeline and check
#     the run succeeded and the secret's value was written nowhere.
#
# Needs RN_BUILDDIR (configured build tree) and RN_SRCDIR (source tree).
set -eu

: "${RN_BUILDDIR:?set RN_BUILDDIR to the build tree}"
: "${RN_SRCDIR:?set RN_SRCDIR to the source tree}"
RN_BUILDDIR=$(cd "$RN_BUILDDIR" && pwd)
RN_SRCDIR=$(cd "$RN_SRCDIR" && pwd)
example="$RN_SRCDIR/examples/out-of-tree-plugin"
python=/usr/bin/python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rn-oot-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# Stop here: later steps depend on this one.
die() { echo "FAIL: $*"; exit 1; }
show() { sed 's/^/    /' "$1" | tail -n 40; }

# --- 1. stage an install ----------------------------------------------------
dest="$tmp/dest"
if make -s -C "$RN_BUILDDIR" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
    pass "make install DESTDIR"
else
    show "$tmp/install.log"
    die "make install DESTDIR"
fi

# The configured prefix is recorded by configure; falling back to wherever
# the .pc file landed keeps this working with unusual layouts.
prefix=$(sed -n 's/^S\["prefix"\]="\(.*\)"$/\1/p' "$RN_BUILDDIR/config.status")
pc=$(find "$dest" -name runnable-plugin.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "runnable-plugin.pc was not installed"
if [ -z "$prefix" ] || [ ! -d "$dest$prefix" ]; then
    prefix=$(dirname "$(dirname "$(dirname "${pc#"$dest"}")")")
fi
stage="$dest$prefix"
pass "staged prefix $stage"

# --- 2. build the example with the staged SDK only ---------------------------
# --define-variable moves every path the .pc derives from ${prefix} into
# the staging tree; PKG_CONFIG_PATH finds it there.
cp -R "$example" "$tmp/src"
pkgconfig="pkg-config --define-variable=prefix=$stage"
PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
case "$($pkgconfig --cflags runnable-plugin)" in
    *"$stage"*) pass "pkg-config --cflags points into the staging tree" ;;
    *) fail "pkg-config --cflags does not point into $stage: $($pkgconfig --cflags runnable-plugin)" ;;
esac
if make -C "$tmp/src" PKG_CONFIG="$pkgconfig" >"$tmp/build.log" 2>&1; then
    pass "example plugin builds against the installed SDK"
else
    show "$tmp/build.log"
    die "example plugin builds against the installed SDK"
fi
if grep -q -i 'warning' "$tmp/build.log"; then
    show "$tmp/build.log"
    fail "example plugin builds without warnings"
fi

# --- 3. install it into a folder of its own --------------------------------
plugins="$tmp/plugins"
if make -C "$tmp/src" PKG_CONFIG="$pkgconfig" install PLUGINDIR="$plugins" >"$tmp/pinstall.log" 2>&1 \
    && [ -f "$plugins/secrets-static.so" ]; then
    pass "make install PLUGINDIR puts secrets-static.so in place"
else
    show "$tmp/pinstall.log"
    die "make install PLUGINDIR"
fi
# Without PLUGINDIR, `make install` uses the SDK's plugindir, which must
# be the folder the engine searches last ($(pkglibdir)/plugins).
got=$($pkgconfig --variable=plugindir runnable-plugin)
if [ "$got" = "$($pkgconfig --variable=libdir runnable-plugin)/runnable/plugins" ] && [ -d "$got" ]; then
    pass "plugindir is the installed <libdir>/runnable/plugins"
else
    fail "plugindir: got '$got', expected the installed <libdir>/runnable/plugins"
fi
if nm -D --defined-only "$plugins/secrets-static.so" | grep -q ' secrets_static_LTX_rn_plugin$'; then
    pass "descriptor symbol secrets_static_LTX_rn_plugin exported"
else
    fail "descriptor symbol secrets_static_LTX_rn_plugin exported"
fi

# --- 4. run the installed engine with it ----------------------------------
runnable="$stage/bin/runnable"
if [ ! -x "$runnable" ]; then
    fail "installed $runnable missing (the CLI is not built yet?)"
    exit 1
fi
libdir=$($pkgconfig --variable=libdir runnable-plugin)
work="$tmp/work"
mkdir "$work"
cp "$example/pipeline.yaml" "$example/config.yaml" "$work/"
set +e
(
    cd "$work" &&
    env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        RUNNABLE_PLUGIN_PATH="$plugins:$libdir/runnable/plugins" \
        "$runnable" execute pipeline.yaml -c config.yaml
) >"$tmp/run.out" 2>"$tmp/run.err"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    pass "runnable execute exits 0"
else
    show "$tmp/run.out"
    show "$tmp/run.err"
    fail "runnable execute exits 0 (got $rc)"
fi

# One run, one file-system run log.
set -- "$work"/.run_log_store/*.json
if [ "$#" -eq 1 ] && [ -f "$1" ]; then
    runlog=$1
    pass "run log written: ${runlog#"$work"/}"
    if status=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$runlog") \
        && [ "$status" = SUCCESS ]; then
        pass "run log status SUCCESS"
    else
        fail "run log status SUCCESS (got '${status:-unreadable}')"
    fi
    step=$("$python" -c '
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
print(steps.get("check greeting", {}).get("status", "missing"))' "$runlog" || echo unreadable)
    if [ "$step" = SUCCESS ]; then
        pass "step 'check greeting' SUCCESS (the task saw the secret)"
    else
        fail "step 'check greeting' SUCCESS (got $step)"
    fi
else
    fail "exactly one run log in .run_log_store (found: $*)"
fi

# The value may be in config.yaml (the user put it there) and nowhere else
# the engine writes: run log, catalog (execution logs), its own output.
leaks=$(grep -r -l -F hello "$work" "$tmp/run.out" "$tmp/run.err" | grep -v -x -F "$work/config.yaml" || true)
if [ -z "$leaks" ]; then
    pass "secret value written nowhere (run log, catalog, output)"
else
    fail "secret value found in: $leaks"
fi

if [ "$failures" -eq 0 ]; then
    echo "PASS: out-of-tree plugin"
    exit 0
fi
echo "FAIL: out-of-tree plugin ($failures failed)"
exit 1
