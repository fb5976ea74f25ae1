#!/bin/bash
# The slurm executor against bare Slurm, side by side on one private
# one-node test cluster (tests/slurm/cluster.sh), issue 8's two figures:
#   linear: a 100-step linear pipeline (each step `true`) under slurm,
#           vs a bare `sbatch --dependency=afterok` chain of 100 `true` jobs,
#           in queue mode and with `submit: dependencies`;
#   map:    a 500-item map, max_submitted: 64, vs 500 independent jobs
#           submitted by `sbatch` in a loop.
# Jobs run `true`, so the job run times are ~0 and wall time is overhead.
# The bare figures learn completion by polling squeue every POLL seconds,
# the engine polls at the same interval (poll_interval).
#
#   bench/slurm.sh [BUILD_DIR]      N=100 M=500 POLL=0.05 to change sizes
set -eu
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$BENCH_DIR/.." && pwd)
BUILD=$(cd "${1:-$SRC}" && pwd)
N=${N:-100}
M=${M:-500}
POLL=${POLL:-0.05}
PROG=$BUILD/core/cli/runnable
if [ -x "$BUILD/core/cli/.libs/runnable" ]; then
    PROG=$BUILD/core/cli/.libs/runnable
    export LD_LIBRARY_PATH=$BUILD/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
[ -x "$PROG" ] || { echo "slurm.sh: no runnable in $BUILD (build first)" >&2; exit 2; }
export RUNNABLE_PLUGIN_PATH=$BUILD/executors:$BUILD/run_log_stores:$BUILD/catalogs:$BUILD/secrets:$BUILD/plugins

work=$(mktemp -d)
. "$SRC/tests/slurm/cluster.sh"
slurm_cluster_start "$work/cluster" || exit 1
trap 'slurm_cluster_stop; rm -rf "$work"' EXIT
cd "$work"
now() { date +%s.%N; }
# wait_gone IDS: until none of the jobs is pending, running or completing.
wait_gone() {
    while squeue -h -t PD,R,CG,CF,S -j "$1" 2>/dev/null | grep -q .; do sleep "$POLL"; done
}
# One job first: the cluster's first schedule pass is not part of a figure.
id=$(sbatch --parsable --output=/dev/null --wrap true); wait_gone "$id"

# ---- linear
t0=$(now)
prev=$(sbatch --parsable --output=/dev/null --wrap true)
for _ in $(seq 2 "$N"); do
    prev=$(sbatch --parsable --output=/dev/null -d "afterok:$prev" --wrap true)
done
wait_gone "$prev"
chain=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')

{
    echo 'dag:'
    echo '  start_at: s1'
    echo '  steps:'
    for i in $(seq 1 "$N"); do
        nxt=s$((i + 1)); [ "$i" = "$N" ] && nxt=success
        printf '    s%d: {type: task, command_type: shell, command: "true", next: %s}\n' "$i" "$nxt"
    done
} >linear.yaml
printf 'run-log-store: {type: chunked-fs}\npipeline-executor:\n  type: slurm\n  config: {poll_interval: %s, max_submitted: 64}\n' \
    "$POLL" >cfg.yaml
t0=$(now)
"$PROG" execute linear.yaml lin -c cfg.yaml >lin.out 2>&1 || { tail -5 lin.out >&2; echo "linear run failed" >&2; exit 1; }
lin=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
echo "# linear: runnable $lin s, sbatch afterok chain $chain s" >&2

# ---- linear, the chain submitted up front (submit: dependencies)
printf 'run-log-store: {type: chunked-fs}\npipeline-executor:\n  type: slurm\n  config: {poll_interval: %s, max_submitted: 64, submit: dependencies}\n' \
    "$POLL" >dcfg.yaml
t0=$(now)
"$PROG" execute linear.yaml dep -c dcfg.yaml >dep.out 2>&1 || { tail -5 dep.out >&2; echo "linear run (submit: dependencies) failed" >&2; exit 1; }
dep=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
echo "# linear, submit: dependencies: runnable $dep s" >&2

# ---- map
t0=$(now)
ids=
for _ in $(seq 1 "$M"); do
    ids=$ids${ids:+,}$(sbatch --parsable --output=/dev/null --wrap true)
done
wait_gone "$ids"
loop=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')

cat >map.yaml <<'YAML'
dag:
  start_at: fan
  steps:
    fan:
      type: map
      iterate_on: items
      iterate_as: i
      next: success
      branch:
        start_at: t
        steps:
          t: {type: task, command_type: shell, command: "true", next: success}
YAML
/usr/bin/python3 -c "print('items: %s' % list(range($M)))" >items.yaml
printf 'run-log-store: {type: chunked-fs}\npipeline-executor:\n  type: slurm\n  config: {poll_interval: %s, max_submitted: 64, enable_parallel: true}\n' \
    "$POLL" >mcfg.yaml
t0=$(now)
"$PROG" execute map.yaml mp -c mcfg.yaml -p items.yaml >map.out 2>&1 || { grep -v SUCCESS map.out | tail -5 >&2; echo "map run failed" >&2; exit 1; }
map=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')

# Attempts beyond one per item: none expected (each is reported if any).
extra=$("$PROG" runs show mp --json -c mcfg.yaml 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(len(s["attempts"]) - 1 for b in d["steps"]["fan"]["branches"].values() for s in b["steps"].values() if s["step_type"] == "task"))')
echo "# map: $extra attempt(s) retried" >&2
printf '%-44s %9s %9s %7s\n' "workload" "runnable" "bare" "ratio"
printf '%-44s %8ss %8ss %6.2fx\n' "linear $N steps vs sbatch afterok chain" "$lin" "$chain" \
    "$(awk -v a="$lin" -v b="$chain" 'BEGIN {print a / b}')"
printf '%-44s %8ss %8ss %6.2fx\n' "linear $N steps, submit: dependencies" "$dep" "$chain" \
    "$(awk -v a="$dep" -v b="$chain" 'BEGIN {print a / b}')"
printf '%-44s %8ss %8ss %6.2fx\n' "map $M items (64 out) vs sbatch loop" "$map" "$loop" \
    "$(awk -v a="$map" -v b="$loop" 'BEGIN {print a / b}')"
