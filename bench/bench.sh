#!/bin/bash
# Side-by-side benchmark: runnable vs ninja (and make) running the same N
# `sh -c true` commands one at a time.  Prints wall times and ratios.
#
#   bench/bench.sh [BUILD_DIR]      (default: the source tree's in-place build)
#
# Measures, on this machine:
#   1. 1,000-step linear pipeline (default config: file-system run log and
#      catalog) vs `ninja -j1` and `make -j1` on 1,000 `sh -c true` commands;
#   2. the same at 10,000 steps: time per step relative to the 1,000 figure;
#   3. `runnable execute` of a one-step pipeline: median of 10 runs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$(cd "$here/.." && pwd)}
rn="$build/core/cli/runnable"
[ -x "$rn" ] || { echo "no runnable binary at $rn: build first" >&2; exit 2; }
export RUNNABLE_PLUGIN_PATH="$build/executors:$build/run_log_stores:$build/catalogs:$build/secrets:$build/plugins"
# The in-tree binary is a libtool wrapper script; run the real ELF directly.
real="$build/core/cli/.libs/runnable"
if [ -x "$real" ]; then
    export LD_LIBRARY_PATH="$build/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    rn="$real"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {print b - a}'; }
calc() { awk "BEGIN {print $1}"; }

gen_pipeline() { # N FILE
    {
        echo "dag:"
        echo "  start_at: s1"
        echo "  steps:"
        for i in $(seq 1 "$1"); do
            echo "    s$i:"
            echo "      type: task"
            echo "      command_type: shell"
            echo "      command: \"true\""
            if [ "$i" -lt "$1" ]; then echo "      next: s$((i + 1))"; else echo "      next: success"; fi
        done
    } >"$2"
}

gen_ninja() { # N FILE
    {
        echo "rule t"
        echo "  command = sh -c true"
        for i in $(seq 1 "$1"); do echo "build o$i: t"; done
    } >"$2"
}

gen_make() { # N FILE
    {
        printf 'all:'
        for i in $(seq 1 "$1"); do printf ' o%d' "$i"; done
        printf '\n.PHONY: all'
        for i in $(seq 1 "$1"); do printf ' o%d' "$i"; done
        printf '\n'
        for i in $(seq 1 "$1"); do printf 'o%d:\n\t@sh -c true\n' "$i"; done
    } >"$2"
}

time_runnable() { # N -> seconds
    gen_pipeline "$1" "p$1.yaml"
    rm -rf .run_log_store .catalog
    local t0 t1
    t0=$(now)
    "$rn" execute -q "p$1.yaml" "bench-$1-$$" >/dev/null
    t1=$(now)
    elapsed "$t0" "$t1"
}

time_ninja() { # N -> seconds
    gen_ninja "$1" "n$1.ninja"
    rm -f .ninja_log .ninja_deps
    local t0 t1
    t0=$(now)
    ninja -j1 -f "n$1.ninja" >/dev/null
    t1=$(now)
    elapsed "$t0" "$t1"
}

time_make() { # N -> seconds
    gen_make "$1" "m$1.mk"
    local t0 t1
    t0=$(now)
    make -s -j1 -f "m$1.mk" >/dev/null
    t1=$(now)
    elapsed "$t0" "$t1"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "machine: $(nproc) cores, $(uname -r)"
echo

echo "== 1,000 sequential steps (median of 3) =="
r1=$(for _ in 1 2 3; do time_runnable 1000; done | median)
if command -v ninja >/dev/null; then
    n1=$(for _ in 1 2 3; do time_ninja 1000; done | median)
else
    n1=""
fi
m1=$(for _ in 1 2 3; do time_make 1000; done | median)
printf "runnable      %.3f s  (%.3f ms/step)\n" "$r1" "$r1"
[ -n "$n1" ] && printf 'ninja -j1     %.3f s\n' "$n1"
printf 'make -j1      %.3f s\n' "$m1"
[ -n "$n1" ] && printf 'ratio runnable/ninja = %.2f   (target <= 1.2, limit 1.5)\n' "$(calc "$r1 / $n1")"
printf 'ratio runnable/make  = %.2f\n' "$(calc "$r1 / $m1")"
echo

echo "== 10,000 sequential steps =="
r10=$(time_runnable 10000)
printf 'runnable      %.3f s\n' "$r10"
printf 'per-step ratio 10k/1k = %.2f   (limit 1.3: flat, not quadratic)\n' \
    "$(calc "($r10 / 10000) / ($r1 / 1000)")"
echo

echo "== one-step pipeline, median of 10 =="
gen_pipeline 1 one.yaml
one=$(for i in $(seq 1 10); do
    rm -rf .run_log_store .catalog
    t0=$(now); "$rn" execute -q one.yaml "one-$i-$$" >/dev/null; t1=$(now)
    elapsed "$t0" "$t1"
done | median)
printf 'runnable execute (1 step)  %.1f ms   (limit 15 ms)\n' "$(calc "$one * 1000")"
