#!/bin/bash
# --enable-static-plugins: one self-contained `runnable` (librunnable and
# every in-tree plugin linked in through libltdl's dlpreopen), the file a
# container image needs.  Builds it in a folder of its own and checks what
# a user of that one file sees:
#   - the program needs no librunnable and no plugin file;
#   - copied alone into an empty folder, with no plugin folder anywhere, it
#     lists every in-tree provider as built in and runs pipelines (linear,
#     composites) with the file-system and chunked-fs stores;
#   - a plugin file on the search path still loads (a third-party provider
#     resolving the SDK's functions in the program) and overrides a built-in
#     of the same name.
#
#   tests/static/check.sh SRCDIR [WORKDIR]
# Exit 0, or 1 with what failed.  Run by run-tests.sh.
set -eu
src=$(cd "$1" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/rn-static-XXXXXX")}
n=0
fail() { printf 'FAIL - %s\n' "$1" >&2; [ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/    | /' >&2; exit 1; }
pass() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }

build=$work/build
mkdir -p "$build"
# A prefix that does not exist: no installed plugin folder can answer.
(cd "$build" && "$src/configure" --quiet --enable-static-plugins --prefix="$work/nowhere" &&
    make -j"$(nproc)" --quiet) >"$work/build.log" 2>&1 ||
    fail "configure --enable-static-plugins and make" "$(tail -30 "$work/build.log")"
pass "configure --enable-static-plugins && make"

prog=$build/core/cli/runnable
[ -x "$prog" ] && ! grep -q 'libtool' <(head -c 200 "$prog") ||
    fail "core/cli/runnable is the program itself, not a libtool wrapper"
libs=$(ldd "$prog")
! grep -q -E 'librunnable|/plugins/' <<<"$libs" || fail "the program needs no librunnable" "$libs"
pass "the program needs no librunnable nor plugin file (ldd)"

# librunnable is linked from its archive, which brings only the objects
# something in the program uses: every SDK function a third-party plugin
# may call must still be there, exported.
sdk=$(grep -o -E '\brn_[a-z0-9_]+\(' "$src/core/include/runnable/plugin.h" | tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$sdk") <(nm -D --defined-only "$prog" | awk '{print $3}' | sort -u))
[ -z "$missing" ] || fail "the program exports every SDK function of plugin.h" "$missing"
pass "the program exports all $(wc -l <<<"$sdk") SDK functions of plugin.h"

solo=$work/solo
mkdir -p "$solo"
cp "$prog" "$solo/runnable"
cd "$solo"
run() { env -u RUNNABLE_PLUGIN_PATH -u LD_LIBRARY_PATH ./runnable "$@" >out 2>err; }

run plugins || fail "runnable plugins, alone in a folder" "$(cat err)"
want=$(find "$build" -path '*/.libs' -prune -o -name '*.la' -print |
    grep -E '/(catalogs|executors|run_log_stores|secrets|plugins)/[a-z-]+\.la$' |
    grep -v skeleton | sed 's|.*/||; s|\.la$||' | sort)
got=$(sed -n 's/^[a-z-]* *[a-z-]* *[^ ]* *\([a-z-]*\) (built in)$/\1/p' out | sort)
[ -n "$want" ] && [ "$want" = "$got" ] ||
    fail "every in-tree plugin is built in (core/cli/Makefile.inc's -dlpreopen list)" \
        "$(diff <(echo "$want") <(echo "$got"))"
pass "runnable plugins lists all $(wc -l <<<"$want") in-tree providers as built in"

printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: local\n  config: {enable_parallel: true}\n' >ck.yaml
printf 'pipeline-executor:\n  type: local\n  config: {enable_parallel: true}\n' >fs.yaml
printf 'seed: 7\nfail_at: none\n' >n.yaml
run execute "$src/examples/hello.yaml" hello -c fs.yaml || fail "hello.yaml" "$(cat err)"
grep -q '"status": "SUCCESS"' .run_log_store/hello.json || fail "hello's run log says SUCCESS"
pass "examples/hello.yaml runs (file-system store)"
for store in fs ck; do
    run execute "$src/tests/fixtures/composites/nested.yaml" "nested-$store" -p n.yaml -c "$store.yaml" ||
        fail "map in map in parallel ($store)" "$(cat err)"
    run runs show "nested-$store" --json -c "$store.yaml" || fail "runs show nested-$store" "$(cat err)"
    /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
def walk(steps):
    for s in steps.values():
        yield s
        for b in s.get("branches", {}).values():
            yield from walk(b["steps"])
n = sum(1 for s in walk(d["steps"]) if s["status"] == "SUCCESS")
sys.exit(0 if d["status"] == "SUCCESS" and n >= 20 else 1)' out ||
        fail "the nested run log is complete ($store)" "$(head -20 out)"
done
pass "a map in a map in a parallel branch runs (file-system and chunked-fs stores)"

# A third-party plugin: built against the SDK header only, not linked with
# librunnable (there is none here); the program exports the SDK.
mkdir -p ext
# shellcheck disable=SC2046
cc -std=c11 -fPIC -shared -I"$src/core/include" $(pkg-config --cflags jansson) \
    -o ext/experiment-tracker-skeleton.so "$src/plugins/skeleton/skeleton.c" 2>cc.err ||
    fail "build the skeleton plugin" "$(cat cc.err)"
run plugins --plugin-path ext || fail "runnable plugins --plugin-path ext" "$(cat err)"
grep -q "skeleton .*ext/experiment-tracker-skeleton.so" out ||
    fail "the plugin file is listed" "$(cat out err)"
printf 'experiment-tracker:\n  type: skeleton\n' >sk.yaml
run execute "$src/examples/hello.yaml" skel -c sk.yaml --plugin-path ext ||
    fail "a run with the plugin file's tracker" "$(cat err)"
pass "a plugin file loads into the program and runs, resolving the SDK in it"

# A file of a built-in's name comes first.
cp "$build/catalogs/.libs/catalog-do-nothing.so" ext/
run plugins --plugin-path ext || fail "runnable plugins with an overriding file" "$(cat err)"
grep -q "do-nothing .*ext/catalog-do-nothing.so" out && ! grep -q "catalog-do-nothing (built in)" out ||
    fail "the file overrides the built-in catalog do-nothing" "$(grep do-nothing out)"
pass "a plugin file overrides the built-in of the same name"

printf 'run-log-store:\n  type: nosuch\n' >bad.yaml
run validate "$src/examples/hello.yaml" -c bad.yaml && fail "an unknown type is refused"
grep -q "built into this program" err || fail "the error says built-ins were searched" "$(cat err)"
pass "an unknown provider's error names the folders and the built-ins"

[ -n "${2:-}" ] || rm -rf "$work"
echo "PASS: static build ($n checks)"
