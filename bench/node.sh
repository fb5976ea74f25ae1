#!/usr/bin/env bash
# `runnable execute-single-node` cost for one shell `true` step against a
# chunked-fs store, on a 10-step and on a 1,000-step run (issue 6: a pod
# must not pay for the size of the run).  Prints the median of REPS runs.
#
#   bash bench/node.sh [BUILD_DIR] [REPS]      (defaults: . and 50)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
find_runnable "${1:-.}"
REPS=${2:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'run-log-store:\n  type: chunked-fs\n' >c.yaml
for n in 10 1000; do
    {
        printf 'dag:\n  start_at: s0\n  steps:\n'
        for ((i = 0; i < n; i++)); do
            nxt=s$((i + 1)); [ $((i + 1)) -lt "$n" ] || nxt=success
            printf '    s%d:\n      type: task\n      command_type: shell\n      command: "true"\n      next: %s\n' "$i" "$nxt"
        done
        printf '    success:\n      type: success\n    fail:\n      type: fail\n'
    } >"p$n.yaml"
    "$RN" execute --file "p$n.yaml" -c c.yaml --run-id "r$n" >/dev/null 2>&1
    step=s$((n / 2))
    for ((r = 0; r < REPS; r++)); do
        s=$(date +%s%N)
        "$RN" execute-single-node "r$n" "$step" --file "p$n.yaml" -c c.yaml >/dev/null 2>&1 ||
            { echo "execute-single-node failed on the $n-step run" >&2; exit 1; }
        e=$(date +%s%N)
        echo $(((e - s) / 1000))
    done | median | awk -v n="$n" '{printf "execute-single-node, %5d-step chunked-fs run: %.2f ms (median of '"$REPS"')\n", n, $1 / 1000}'
done
