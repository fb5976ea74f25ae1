#!/usr/bin/env bash
# `runnable execute-single-node` cost for one shell `true` step against a
# chunked-fs store, on a 10-step and on a 1,000-step run (issue 6: a pod
# must not pay for the size of the run).  Prints the median of REPS runs,
# and beside it what spawning `sh -c true` alone costs on this machine
# (the floor under any step, which the engine's process adds to) and what
# starting `runnable` itself costs (exec and dynamic linking, nothing
# run): a node costs at least the two.
#
# Every repetition starts from the same stored run (a copy of the one
# `execute` made): running one step again and again would measure a step
# log that grows by one attempt each time.  On that copy one node of
# another step runs first, untimed, as the pod before does in a workflow:
# a copy is a new file to the store, which a pod never meets (the
# previous pod leaves the file and its layout cache, see
# docs/run-log-layout.md), and without it the timed node would scan it.
#
# With a BASELINE_BUILD (another build of the project, e.g. of the commit
# before a change), each node timing alternates between the two builds,
# repetition by repetition, and prints both and their ratio: on a shared
# machine whose speed drifts within the hour, two runs of the bench minutes
# apart differ by more than most changes do.
#
#   bash bench/node.sh [BUILD_DIR] [REPS] [BASELINE_BUILD]   (defaults: . and 50)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
BASE=${3:-}
if [ -n "$BASE" ]; then
    (find_runnable "$BASE") || exit 2
    BASE=$(cd "$BASE" && pwd)
fi
find_runnable "${1:-.}"
REPS=${2:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'run-log-store:\n  type: chunked-fs\n' >c.yaml

# Timed from Python: its subprocess starts children with vfork, as the
# engine does, where bash's fork copies the shell's page tables (several
# milliseconds on a virtual machine, which would be measured too).
timed() { # LABEL REPS RESTORE_FROM RESTORE_TO WARM_STEP CMD...
    BASE="$BASE" RN="$RN" /usr/bin/python3 - "$@" <<'PY'
import os, shutil, statistics, subprocess, sys, time
label, reps, src, dst, warm, cmd = (sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4],
                                    sys.argv[5], sys.argv[6:])
runs = [("", cmd, None)]
base = os.environ.get("BASE")
if base and cmd[0] == os.environ["RN"]:
    # The same command by the baseline build (its binary, libraries, plugins).
    bin_ = os.path.join(base, "core/cli/.libs/runnable")
    env = dict(os.environ, RUNNABLE_PLUGIN_PATH=":".join(
        os.path.join(base, d) for d in ("executors", "run_log_stores", "catalogs", "secrets", "plugins")))
    if os.path.exists(bin_):
        env["LD_LIBRARY_PATH"] = os.path.join(base, "core/.libs")
    else:
        bin_ = os.path.join(base, "core/cli/runnable")
    runs.append(("baseline ", [bin_] + cmd[1:], env))
t = {name: [] for name, _, _ in runs}
for _ in range(reps):
    for name, argv, env in runs:
        if src:
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, symlinks=True)
        if warm:  # the node before: argv[3] is the step (execute-single-node RUN STEP ...)
            subprocess.run(argv[:3] + [warm] + argv[4:], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env, check=True)
        s = time.perf_counter()
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env).returncode
        t[name].append(time.perf_counter() - s)
        if rc:
            sys.exit("%s failed (exit %d): %s" % (label, rc, " ".join(argv)))
m = {name: statistics.median(v) for name, v in t.items()}
print("%-48s %6.2f ms (median of %d)" % (label + ":", m[""] * 1e3, reps))
if len(runs) > 1:
    print("%-48s %6.2f ms (this build: %.2f of it)" % ("  the same by the baseline build:",
          m["baseline "] * 1e3, m[""] / m["baseline "]))
PY
}

timed "sh -c true (the floor under any step)" "$REPS" "" "" "" /bin/sh -c true
timed "runnable --version (the engine's own start)" "$REPS" "" "" "" "$RN" --version
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
    cp -a ".run_log_store/r$n" "pristine$n"
    timed "$(printf 'execute-single-node, %5d-step chunked-fs run' "$n")" "$REPS" \
        "pristine$n" ".run_log_store/r$n" "s$((n / 2 - 1))" \
        "$RN" execute-single-node "r$n" "s$((n / 2))" --file "p$n.yaml" -c c.yaml
done
