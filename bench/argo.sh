#!/bin/bash
# Transpiling to Argo: wall time of `runnable execute PIPELINE -c argo.yaml -o
# FILE` (load, check, generate, write the manifest; nothing runs) for
#   linear:      a 1,000-step linear pipeline;
#   map-in-map:  a map whose branch holds 50 steps and a map whose branch
#                holds 200 steps, the inner steps with retries and timeouts;
#   dag:         a 1,000-step depends_on graph (chains, joins, independent
#                starts): beyond Argo's 200 tasks per DAG, a steps template
#                of levels.
# Budget: under 50 ms each (issue 6).  Median of REPS runs (default 11).
#
#   bench/argo.sh [BUILD_DIR]   (default: the source tree's in-place build)
set -eu
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$BENCH_DIR/..}" && pwd)
REPS=${REPS:-11}
PROG=$BUILD/core/cli/runnable
# The libtool wrapper would add its own start-up to every figure.
if [ -x "$BUILD/core/cli/.libs/runnable" ]; then
    PROG=$BUILD/core/cli/.libs/runnable
    export LD_LIBRARY_PATH=$BUILD/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
[ -x "$PROG" ] || { echo "argo.sh: no runnable in $BUILD (build first)" >&2; exit 2; }
export RUNNABLE_PLUGIN_PATH=$BUILD/executors:$BUILD/run_log_stores:$BUILD/catalogs:$BUILD/secrets:$BUILD/plugins

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >argo.yaml <<'YAML'
pipeline-executor:
  type: argo
  config:
    pvc_for_runnable: runnable
    defaults: {image: registry.example/runnable:1}
    argoWorkflow: {metadata: {generateName: bench-}, spec: {}}
run-log-store:
  type: chunked-fs
YAML

# task NAME NEXT INDENT [EXTRA...]: one shell step.
task() {
    local name=$1 next=$2 pad=$3
    shift 3
    printf '%s%s:\n%s  type: task\n%s  command_type: shell\n%s  command: "true"\n%s  next: %s\n' \
        "$pad" "$name" "$pad" "$pad" "$pad" "$pad" "$next"
    for x in "$@"; do printf '%s  %s\n' "$pad" "$x"; done
}

{
    printf 'dag:\n  start_at: s0\n  steps:\n'
    for i in $(seq 0 999); do
        next=s$((i + 1))
        [ "$i" -lt 999 ] || next=success
        task "s$i" "$next" "    "
    done
} >linear.yaml

{
    printf 'dag:\n  start_at: outer\n  steps:\n'
    printf '    outer:\n      type: map\n      iterate_on: rows\n      iterate_as: r\n      next: success\n'
    printf '      branch:\n        start_at: a0\n        steps:\n'
    for i in $(seq 0 49); do
        next=a$((i + 1))
        [ "$i" -lt 49 ] || next=inner
        task "a$i" "$next" "          "
    done
    printf '          inner:\n            type: map\n            iterate_on: cols\n'
    printf '            iterate_as: c\n            next: success\n'
    printf '            branch:\n              start_at: b0\n              steps:\n'
    for i in $(seq 0 199); do
        next=b$((i + 1))
        [ "$i" -lt 199 ] || next=success
        task "b$i" "$next" "                " "max_attempts: 3" "timeout: 600"
    done
} >mapmap.yaml

{
    printf 'dag:\n  steps:\n'
    for i in $(seq 0 999); do
        deps=""
        if [ "$i" -gt 0 ] && [ $((i % 50)) -ne 1 ]; then
            if [ $((i % 7)) -ne 0 ]; then deps="s$((i - 1))"; else deps="s$((i / 2))"; fi
            [ "$i" -le 10 ] || [ $((i % 5)) -ne 0 ] || deps="$deps, s$((i - 10))"
        fi
        printf '    s%d:\n      type: task\n      command_type: shell\n      command: "true"\n' "$i"
        printf '      depends_on: [%s]\n' "$deps"
    done
} >dag.yaml

# median_ms PIPELINE: median wall time of REPS transpilations, in ms.
median_ms() {
    local t0 t1 i
    "$PROG" execute "$1" -c argo.yaml -o out.yaml >/dev/null ||
        { echo "argo.sh: $1 did not transpile" >&2; exit 1; }
    for i in $(seq "$REPS"); do
        t0=$EPOCHREALTIME
        "$PROG" execute "$1" -c argo.yaml -o out.yaml >/dev/null
        t1=$EPOCHREALTIME
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

fail=0
for w in linear mapmap dag; do
    ms=$(median_ms "$w.yaml")
    "$PROG" execute "$w.yaml" -c argo.yaml -o out.yaml >/dev/null
    n=$(awk '/^  templates:/ { on = 1; next } /^  [^ -]/ { on = 0 } on && /^    - name: / { n++ } END { print n + 0 }' out.yaml)
    ok=$(awk -v m="$ms" 'BEGIN { print (m < 50) ? "ok" : "OVER" }')
    [ "$ok" = ok ] || fail=1
    case $w in
    linear) label="1,000-step linear" ;;
    mapmap) label="map in map, 250 steps" ;;
    *) label="1,000-step depends_on" ;;
    esac
    printf '%-24s %8s ms  (budget 50 ms: %s; %s templates, %s bytes of manifest)\n' \
        "$label" "$ms" "$ok" "$n" "$(wc -c <out.yaml)"
done
exit $fail
