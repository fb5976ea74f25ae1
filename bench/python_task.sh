#!/bin/bash
# One trivial python task through the engine against the same call made
# directly, side by side (docs/python-tasks.md, "Performance"):
#
#   direct    python3 -c 'import mod; mod.f()'
#   task      the task's attempt as recorded in the run log (start_time to
#             end_time: spawn, driver, binding, result, run log) -- the
#             engine's cost for the task, the figure the 1.3x target is about
#   execute   the whole `runnable execute` of a one-task pipeline (also
#             loading the config, plugins, git identity, run log creation)
#
# Usage: bench/python_task.sh [BUILD_DIR] [REPS]   (default: ., 21)
# Medians of REPS runs, taken alternately so drifts hit all three alike.
set -eu
B=$(cd "${1:-.}" && pwd)
REPS=${2:-21}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=${RUNNABLE_PYTHON:-/usr/bin/python3}
export RUNNABLE_PYTHON=$PY
export RUNNABLE_PYTHON_DRIVER=${RUNNABLE_PYTHON_DRIVER:-$SRC/plugins/python/runnable_task.py}
export RUNNABLE_PLUGIN_PATH=$B/executors/.libs:$B/run_log_stores/.libs:$B/catalogs/.libs:$B/secrets/.libs:$B/plugins/.libs
RUNNABLE=$B/core/cli/.libs/runnable
export LD_LIBRARY_PATH=$B/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -x "$RUNNABLE" ] || RUNNABLE=$B/core/cli/runnable

W=$(mktemp -d "${TMPDIR:-/tmp}/rn-bench-py-XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
printf 'def f():\n    return None\n' >mod.py
cat >one.yaml <<'YAML'
dag:
  start_at: t
  steps:
    t:
      type: task
      command: mod.f
      next: success
YAML
# Compiled once, as a user's module would be after its first run.
"$PY" -c 'import mod; mod.f()'

now() { date +%s%N; }
direct=() task=() whole=()
for i in $(seq "$REPS"); do
    t0=$(now)
    "$PY" -c 'import mod; mod.f()'
    t1=$(now)
    direct+=($((t1 - t0)))
    t0=$(now)
    "$RUNNABLE" execute one.yaml "r$i" >/dev/null 2>&1 || { echo "run r$i failed" >&2; exit 1; }
    t1=$(now)
    whole+=($((t1 - t0)))
    task+=($("$PY" -c '
import json, sys, datetime
a = json.load(open(sys.argv[1]))["steps"]["t"]["attempts"][-1]
d = datetime.datetime.fromisoformat(a["end_time"]) - datetime.datetime.fromisoformat(a["start_time"])
print(int(d.total_seconds() * 1e9))' ".run_log_store/r$i.json"))
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
md=$(median "${direct[@]}") mt=$(median "${task[@]}") mw=$(median "${whole[@]}")
ms() { awk -v n="$1" 'BEGIN {printf "%.1f ms", n / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
echo "python: $("$PY" --version 2>&1) ($PY); $REPS runs each, medians"
printf '%-44s %10s %8s\n' "" "time" "ratio"
printf '%-44s %10s %8s\n' "python3 -c 'import mod; mod.f()'" "$(ms "$md")" "1.00x"
printf '%-44s %10s %8s\n' "python task, spawn to recorded result" "$(ms "$mt")" "$(ratio "$mt" "$md")"
printf '%-44s %10s %8s\n' "runnable execute (one-task pipeline)" "$(ms "$mw")" "$(ratio "$mw" "$md")"
awk -v a="$mt" -v b="$md" 'BEGIN {exit !(a / b <= 1.3)}' &&
    echo "target (task <= 1.3x direct): met" || echo "target (task <= 1.3x direct): NOT met"
