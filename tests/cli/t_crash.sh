#!/bin/bash
# Crash safety (DESIGN §6): SIGKILL the engine at random moments of a
# 200-step run; after each kill the run log on disk must parse, and
# `runnable retry` must finish the run without re-running any step that
# was recorded as succeeded (only the step in flight may run twice).
. "$(dirname "$0")/lib.sh"

KILLS=${RN_CRASH_KILLS:-50}

workdir gen
$PY - <<'PY'
steps = 200
out = ["dag:", "  start_at: s0", "  steps:"]
for i in range(steps):
    nxt = "s%d" % (i + 1) if i + 1 < steps else "success"
    out += ["    s%d:" % i, "      type: task", "      command_type: shell",
            "      command: 'echo s%d >> counter'" % i, "      next: %s" % nxt]
open("p200.yaml", "w").write("\n".join(out) + "\n")
PY
PIPE=$WORK/p200.yaml

held=0
for k in $(seq 1 "$KILLS"); do
    store=file-system
    [ $((k % 5)) -eq 0 ] && store=chunked-fs
    workdir "kill$k"
    printf 'run-log-store:\n  type: %s\n' "$store" >cfg.yaml
    rn_bg execute "$PIPE" crash -c cfg.yaml
    # Kill somewhere in the run: after its log exists, up to ~the run's length.
    for _ in $(seq 1 400); do
        [ -e .run_log_store/crash.json ] || [ -e .run_log_store/crash/RunLog.json ] && break
        sleep 0.005
    done
    sleep "$($PY -c 'import random; print(random.uniform(0, 0.25))')"
    kill -9 "$ENGINE" 2>/dev/null || true
    wait "$ENGINE" 2>/dev/null || true
    sleep 0.05   # a task started just before the kill finishes its echo
    [ -e counter ] || : >counter
    cp counter counter.before
    # The log as the kill left it: valid JSON, and which steps it says
    # succeeded (file-system: one file; chunked-fs: RunLog.json).
    doc=.run_log_store/crash.json
    [ "$store" = chunked-fs ] && doc=.run_log_store/crash/RunLog.json
    if ! $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = [k for k, s in d["steps"].items()
      if s["attempts"] and s["attempts"][-1]["status"] == "SUCCESS"]
open("succeeded.before", "w").write("\n".join(ok) + "\n")
' "$doc"; then
        fail "kill $k: run log is valid JSON after SIGKILL" "$(cat "$doc" | head -c 300)"
    fi
    rn retry crash -c cfg.yaml
    if [ "$RC" -ne 0 ]; then
        fail "kill $k: runnable retry completes the run" "exit status $RC"
    fi
    if ! $PY - <<'PY'
import collections, json, sys
lines = [l.strip() for l in open("counter") if l.strip()]
before = set(l.strip() for l in open("succeeded.before") if l.strip())
count = collections.Counter(lines)
missing = [f"s{i}" for i in range(200) if count[f"s{i}"] == 0]
twice = [s for s, n in count.items() if n > 1]
rerun_ok = [s for s in twice if s in before]
problems = []
if missing: problems.append("never ran: %s" % missing[:5])
if rerun_ok: problems.append("recorded as succeeded before the kill but ran again: %s" % rerun_ok)
if len(twice) > 1: problems.append("more than the step in flight ran twice: %s" % twice)
if problems:
    print("; ".join(problems)); sys.exit(1)
PY
    then
        fail "kill $k ($store): every step ran, none recorded as succeeded ran again"
    fi
    held=$((held + 1))
done
echo "# crash safety: $held/$KILLS runs held"
[ "$held" -eq "$KILLS" ] || fail "every killed run held" "$held/$KILLS"
pass "$held/$KILLS SIGKILLed runs left a valid log and were completed by retry"
done_testing
