#!/bin/bash
# The slurm executor (docs/slurm.md) against a real one-node Slurm cluster
# started for this test (tests/slurm/cluster.sh): every task attempt is a
# batch job running `runnable execute-single-node`.  The run logs must be
# the local executor's (statuses, attempts, parameters, branches); each
# attempt records its Slurm job; retries resubmit; timeouts and Ctrl-C
# cancel the jobs; `runnable retry` resumes a failed run.
#
# Slurm not installed, or daemons that will not start: the test FAILS.
# Slurm is what it tests (scripts/deps.sh installs it).
. "$(dirname "$0")/lib.sh"
. "$RN_SRCDIR/tests/slurm/cluster.sh"

C=$FIXTURES/composites
P=$FIXTURES/pipelines
F=$FIXTURES/failures

if ! slurm_cluster_start "$RN_TMP/cluster" 2>"$RN_TMP/cluster.err"; then
    fail "a private Slurm cluster starts (slurmctld + slurmd)" "$(cat "$RN_TMP/cluster.err")"
fi
# lib.sh's own cleanup must still run after the cluster stops.
trap 'slurm_cluster_stop; _rn_cleanup' EXIT
pass "a private one-node Slurm cluster is up ($SLURM_CONF)"

queued() { squeue -h -o %i 2>/dev/null | wc -l; }

# slurm_cfg FILE [EXTRA CONFIG]: chunked-fs (jobs write concurrently) and
# a short poll interval (trivial jobs end in tens of ms here).
slurm_cfg() {
    printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: slurm\n  config: {poll_interval: %s, max_submitted: 16%s}\n' \
        "${SLURM_POLL:-0.05}" "${2:-}" >"$1"
}

workdir compare
printf 'seed: 7\nshared: root\nitems: [2, a, {k: 1}, true]\n' >p.yaml
printf 'seed: 7\nfail_at: none\n' >n-ok.yaml
printf 'seed: 7\nfail_at: cell-b2\n' >n-cell.yaml
printf 'seed: 7\ncoin_side: heads\nwant: heads\n' >c-heads.yaml
printf 'count: 10\nstop_at: 2\nfail_at: -1\n' >loop.yaml
i=0
# same_as_local WHAT PARALLEL PIPELINE [OPTIONS]
same_as_local() {
    local what=$1 par=$2 file=$3
    shift 3
    i=$((i + 1))
    printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: local\n  config: {enable_parallel: %s}\n' \
        "$par" >"local-$i.yaml"
    slurm_cfg "slurm-$i.yaml" ", enable_parallel: $par"
    rn execute "$file" "local-$i" -c "local-$i.yaml" "$@"
    local want=$RC
    rn execute "$file" "slurm-$i" -c "slurm-$i.yaml" "$@"
    [ "$RC" = "$want" ] || fail "$what: exit status as with local" "local $want, slurm $RC"
    same_run_log "local-$i" "local-$i.yaml" "slurm-$i" "slurm-$i.yaml" \
        "$what: the slurm run log is local's"
    pass "$what (enable_parallel $par): the run log and exit status ($want) of local"
}

same_as_local "linear" false "$RN_SRCDIR/examples/hello.yaml"
same_as_local "failure, on_failure" false "$P/on_failure.yaml"
same_as_local "failure" false "$P/fail.yaml"
same_as_local "parallel" true "$C/parallel.yaml" -p p.yaml
same_as_local "map" true "$C/map.yaml" -p p.yaml
same_as_local "conditional" false "$C/conditional.yaml" -p c-heads.yaml
same_as_local "loop" false "$C/loop.yaml" -p loop.yaml
same_as_local "map in map in parallel" true "$C/nested.yaml" -p n-ok.yaml
same_as_local "map in map in parallel, a cell fails" true "$C/nested.yaml" -p n-cell.yaml
same_as_local "depends_on graph" true "$C/dag_diamond.yaml"

# Every attempt says which job ran it, where, how it ended.
rn runs show slurm-1 --json -c slurm-1.yaml
cp "$OUT" hello.json
assert_py hello.json 'all(a["slurm"]["job_id"].isdigit() and a["slurm"]["state"] == "COMPLETED" and a["slurm"]["exit_code"] == 0 and a["slurm"]["node"] and "elapsed_seconds" in a["slurm"] for s in doc["steps"].values() if s["step_type"] == "task" for a in s["attempts"])' \
    "each task attempt records its Slurm job id, node, state, exit code and elapsed time"
assert_py hello.json 'len({a["slurm"]["job_id"] for s in doc["steps"].values() if s["step_type"] == "task" for a in s["attempts"]}) == len([s for s in doc["steps"].values() if s["step_type"] == "task"])' \
    "one job per task attempt"

# ------------------------------------------------- submit: dependencies
# The top level's success path is submitted up front, each job held by
# --dependency=afterok on the one before; the engine adopts those jobs.
workdir ahead
# watch_deps: while the background engine runs, the most jobs seen at
# once waiting in the queue for a dependency (queue mode: never any).
watch_deps() {
    local most=0 n
    while kill -0 "$ENGINE" 2>/dev/null; do
        n=$(squeue -h -t PD -o %r 2>/dev/null | grep -c '^Dependency') || true
        [ "$n" -gt "$most" ] && most=$n
        sleep 0.05
    done
    echo "$most"
}
# gone_from_queue: wait (at most 30 s) until squeue lists no job.
gone_from_queue() {
    for _ in $(seq 600); do [ "$(queued)" = 0 ] && return 0; sleep 0.05; done
    return 1
}
j=0
# ahead_as_local WHAT PARALLEL PIPELINE [OPTIONS]: under submit:
# dependencies, the local executor's exit status and run log, and no job
# left queued; MOST is what watch_deps saw.
ahead_as_local() {
    local what=$1 par=$2 file=$3
    shift 3
    j=$((j + 1))
    printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: local\n  config: {enable_parallel: %s}\n' \
        "$par" >"local-$j.yaml"
    slurm_cfg "ahead-$j.yaml" ", enable_parallel: $par, submit: dependencies"
    rn execute "$file" "local-$j" -c "local-$j.yaml" "$@"
    local want=$RC
    rn_bg execute "$file" "ahead-$j" -c "ahead-$j.yaml" "$@"
    MOST=$(watch_deps)
    rn_wait
    [ "$RC" = "$want" ] || fail "$what: exit status as with local" "local $want, slurm $RC" "$(cat "$ERR")"
    [ "$(queued)" = 0 ] || fail "$what: no job left in the queue" "$(squeue)"
    same_run_log "local-$j" "local-$j.yaml" "ahead-$j" "ahead-$j.yaml" \
        "$what: the run log is local's"
    pass "$what (submit: dependencies): the run log and exit status ($want) of local, squeue empty"
}

# (a) a linear chain of five tasks and a stub, passing parameters on.  The
# first task sleeps, so the other four wait in the queue, held by their
# dependency, for a second at least.
cat >chain.yaml <<'YAML'
dag:
  start_at: s1
  steps:
    s1: {type: task, command_type: shell, command: 'sleep 1; export a=1', returns: [{name: a}], next: s2}
    s2: {type: task, command_type: shell, command: 'export b=$((a + 1))', returns: [{name: b}], next: hold}
    hold: {type: stub, next: s3}
    s3: {type: task, command_type: shell, command: 'export a=$((b + 10))', returns: [{name: a}], next: s4}
    s4: {type: task, command_type: shell, command: '[ "$a" = 12 ] && echo "$a $b" >>s4.txt', next: s5}
    s5: {type: task, command_type: shell, command: 'export done=yes', returns: [{name: done}], next: success}
YAML
ahead_as_local "5-task linear chain" false chain.yaml
[ "$MOST" -ge 4 ] || fail "the chain was submitted up front: s2..s5 waited on their dependency in squeue" \
    "at most $MOST job(s) seen pending for a Dependency"
pass "the chain was submitted up front ($MOST jobs pending on a Dependency at once)"
assert_py "ahead-$j.json" 'all(len(s["attempts"]) == 1 and s["attempts"][0]["slurm"]["state"] == "COMPLETED" for s in steps.values() if s["step_type"] == "task")' \
    "one attempt, one completed job per task"
assert_py "ahead-$j.json" 'sorted(int(s["attempts"][0]["slurm"]["job_id"]) for s in steps.values() if s["step_type"] == "task") == list(range(min(int(s["attempts"][0]["slurm"]["job_id"]) for s in steps.values() if s["step_type"] == "task"), min(int(s["attempts"][0]["slurm"]["job_id"]) for s in steps.values() if s["step_type"] == "task") + 5))' \
    "the five jobs are the five submitted up front, in a row"
# The engine far behind its jobs (one poll a second, the chain runs in
# tenths of one): it adopts jobs that have recorded their step already,
# and must not write over what they recorded.
SLURM_POLL=1 ahead_as_local "5-task linear chain, the jobs ahead of the engine" false chain.yaml

# (b) a depends_on graph (two middle steps that end at different times).
cat >dag.yaml <<'YAML'
dag:
  steps:
    join:
      type: task
      command_type: shell
      command: '[ "$left" = 2 ] && [ "$right" = 3 ] && export both=$((left + right))'
      returns: [{name: both}]
      depends_on: [left_step, right_step]
    left_step:
      type: task
      command_type: shell
      command: 'sleep 0.3; export left=$((x + 1))'
      returns: [{name: left}]
      depends_on: [start]
    right_step:
      type: task
      command_type: shell
      command: 'sleep 1; export right=$((x + 2))'
      returns: [{name: right}]
      depends_on: [start]
    start:
      type: task
      command_type: shell
      command: 'sleep 0.5; export x=1'
      returns: [{name: x}]
      depends_on: []
YAML
ahead_as_local "depends_on graph" true dag.yaml
[ "$MOST" -ge 3 ] || fail "the graph was submitted up front" "at most $MOST job(s) seen pending for a Dependency"
pass "the graph was submitted up front ($MOST jobs pending on a Dependency at once)"
assert_eq_py "ahead-$j.json" 'values(doc["parameters"])["both"]' '5' "join saw both middle steps' returns"

# (c) failures: on_failure followed, the rest of the chain never runs.
ahead_as_local "failure, on_failure" false "$P/on_failure.yaml"
[ ! -e after-ran.txt ] || fail "the step after the failed one never ran"
pass "the step after the failed one never ran (its job was cancelled)"
ahead_as_local "failure" false "$P/fail.yaml"

# (d) a step that fails once, then succeeds: its successor's job, held on
# the failed attempt's job, is replaced by a fresh one.
cat >retry.yaml <<'YAML'
dag:
  start_at: first
  steps:
    first: {type: task, command_type: shell, command: 'sleep 0.5', next: flaky}
    flaky:
      type: task
      command_type: shell
      command: 'if [ -e marker ]; then export ok=yes; else touch marker; exit 3; fi'
      returns: [{name: ok}]
      max_attempts: 2
      next: last
    last: {type: task, command_type: shell, command: '[ "$ok" = yes ]', next: success}
YAML
slurm_cfg retry-cfg.yaml ", submit: dependencies"
rn execute retry.yaml ar -c retry-cfg.yaml
expect_rc 0 "submit: dependencies, a step that succeeds on its second attempt"
[ "$(queued)" = 0 ] || fail "no job left in the queue after the retry" "$(squeue)"
rn runs show ar --json -c retry-cfg.yaml
cp "$OUT" ar.json
assert_eq_py ar.json 'statuses()' '{"first": "SUCCESS", "flaky": "SUCCESS", "last": "SUCCESS", "success": "SUCCESS"}' \
    "the chain completes"
assert_eq_py ar.json '[a["status"] for a in steps["flaky"]["attempts"]]' '["FAIL", "SUCCESS"]' \
    "flaky: a failed attempt, then a successful one"
assert_eq_py ar.json '[(a["attempt_number"], a["status"], a["slurm"]["state"]) for a in steps["last"]["attempts"]]' \
    '[[1, "SUCCESS", "COMPLETED"]]' "last: one attempt, by a fresh job"
assert_py ar.json 'int(steps["last"]["attempts"][0]["slurm"]["job_id"]) > int(steps["flaky"]["attempts"][1]["slurm"]["job_id"])' \
    "last's job was submitted after flaky's second attempt (the one held on the first was replaced)"

# (e) composites at the top level are refused, with where.
printf 'dag:\n  start_at: fan\n  steps:\n    fan:\n      type: parallel\n      next: success\n      branches:\n        a:\n          start_at: t\n          steps:\n            t: {type: stub, next: success}\n' >comp.yaml
rm -rf .run_log_store
rn execute comp.yaml cp -c retry-cfg.yaml
expect_rc 2 "submit: dependencies with a parallel step at the top level"
expect_err_has "comp.yaml:4:5" "the error gives the composite step's file, line and column"
expect_err_has "submit: queue" "the error says to use submit: queue"
[ ! -e .run_log_store/cp ] || fail "nothing is written for a refused pipeline"
pass "nothing is written for a refused pipeline"

# Ctrl-C: the jobs submitted up front and not adopted yet are cancelled too.
rm -f started.txt
printf 'dag:\n  start_at: c1\n  steps:\n    c1: {type: task, command_type: shell, command: "touch started.txt; sleep 53.5", next: c2}\n    c2: {type: task, command_type: shell, command: "true", next: c3}\n    c3: {type: task, command_type: shell, command: "true", next: success}\n' >cc.yaml
rn_bg execute cc.yaml ac -c retry-cfg.yaml
for _ in $(seq 200); do [ -e started.txt ] && break; sleep 0.05; done
[ "$(queued)" = 3 ] || fail "three jobs queued, two held on the first" "$(squeue)"
kill -INT "$ENGINE"
rn_wait
expect_rc 130 "submit: dependencies, Ctrl-C: exit status 130"
[ "$(queued)" = 0 ] || fail "Ctrl-C leaves no job in the queue, held ones included" "$(squeue)"
pass "Ctrl-C cancelled the running job and those held on it: squeue is empty"

# (f) the engine killed right after submitting: the chain runs on and
# records itself; `runnable retry` then completes the run.
workdir ahead_kill
cat >k.yaml <<'YAML'
dag:
  start_at: k1
  steps:
    k1: {type: task, command_type: shell, command: 'sleep 1; echo k1 >>ran.txt; export n=1', returns: [{name: n}], next: k2}
    k2: {type: task, command_type: shell, command: 'echo k2 >>ran.txt; export n=$((n + 1))', returns: [{name: n}], next: k3}
    k3: {type: task, command_type: shell, command: 'echo k3 >>ran.txt; export n=$((n + 1))', returns: [{name: n}], next: success}
YAML
slurm_cfg cfg.yaml ", submit: dependencies"
rn_bg execute k.yaml kk -c cfg.yaml
for _ in $(seq 200); do [ "$(queued)" -ge 3 ] && break; sleep 0.02; done
[ "$(queued)" -ge 3 ] || fail "the three jobs are queued" "$(squeue)"
kill -KILL "$ENGINE"
rn_wait
gone_from_queue || fail "the chain runs to its end without the engine" "$(squeue)"
[ "$(tr '\n' ' ' <ran.txt)" = "k1 k2 k3 " ] || fail "every step ran once, in order, engine gone" "$(cat ran.txt)"
pass "with the engine killed (SIGKILL) the submitted chain ran to its end"
rn runs show kk --json -c cfg.yaml
cp "$OUT" kk.json
assert_eq_py kk.json '[steps[k]["status"] for k in ("k1", "k2", "k3")]' '["SUCCESS", "SUCCESS", "SUCCESS"]' \
    "the jobs recorded their own steps"
rn retry kk -c cfg.yaml
expect_rc 0 "runnable retry completes the run"
[ "$(queued)" = 0 ] || fail "no job left in the queue after the retry" "$(squeue)"
[ "$(tr '\n' ' ' <ran.txt)" = "k1 k2 k3 " ] || fail "the retry ran no step again" "$(cat ran.txt)"
rn runs show kk --json -c cfg.yaml
cp "$OUT" kk2.json
assert_eq_py kk2.json 'doc["status"]' '"SUCCESS"' "the retried run is SUCCESS"
assert_eq_py kk2.json 'values(doc["parameters"])["n"]' '3' "the parameters are the chain's"
assert_py kk2.json 'all(len(steps[k]["attempts"]) == 1 for k in ("k1", "k2", "k3"))' \
    "one attempt per step: the retry re-ran nothing"

# ---------------------------------------------------------------- retries
workdir retries
cat >p.yaml <<'YAML'
dag:
  start_at: flaky
  steps:
    flaky:
      type: task
      command_type: shell
      command: 'echo "attempt $RUNNABLE_STEP_ATTEMPT" >> attempts.txt; [ "$RUNNABLE_STEP_ATTEMPT" -ge 3 ]'
      max_attempts: 4
      retry: {delay: 0.2, factor: 2}
      next: success
YAML
slurm_cfg cfg.yaml
rn execute p.yaml r1 -c cfg.yaml
expect_rc 0 "a step that succeeds on its third attempt"
rn runs show r1 --json -c cfg.yaml
cp "$OUT" r1.json
assert_eq_py r1.json '[a["status"] for a in doc["steps"]["flaky"]["attempts"]]' '["FAIL", "FAIL", "SUCCESS"]' \
    "max_attempts/retry: each attempt resubmitted and recorded"
assert_py r1.json 'len({a["slurm"]["job_id"] for a in doc["steps"]["flaky"]["attempts"]}) == 3' \
    "three attempts, three Slurm jobs"
assert_eq_py r1.json '[a["slurm"]["exit_code"] for a in doc["steps"]["flaky"]["attempts"]]' '[1, 1, 0]' \
    "the jobs' exit codes are recorded"

# ---------------------------------------------------------------- timeout
workdir timeout
cat >p.yaml <<'YAML'
dag:
  start_at: slow
  steps:
    slow:
      type: task
      command_type: shell
      command: 'touch started; sleep 57.25'
      timeout: 3
      next: success
YAML
slurm_cfg cfg.yaml
rn execute p.yaml t1 -c cfg.yaml
expect_rc 1 "a step over its timeout fails the run"
rn runs show t1 --json -c cfg.yaml
cp "$OUT" t1.json
[ -e started ] || fail "the job ran before it timed out"
assert_eq_py t1.json 'doc["steps"]["slow"]["attempts"][0]["message"]' '"timed out after 3 s"' \
    "the attempt says it timed out"
job=$(json_get t1.json 'doc["steps"]["slow"]["attempts"][0]["slurm"]["job_id"]')
assert_eq_py t1.json 'doc["steps"]["slow"]["attempts"][0]["slurm"]["state"]' '"CANCELLED"' \
    "the timed-out job was cancelled"
scontrol -o show job "$job" | grep -q 'TimeLimit=00:01:00' ||
    fail "timeout becomes the job's --time (whole minutes)" "$(scontrol -o show job "$job")"
pass "timeout becomes the job's Slurm time limit (--time=1 for 3 s)"
sleep 0.3
pgrep -f 'sleep 57.25' >/dev/null && fail "no process of the timed-out job survives" "$(pgrep -fa 'sleep 57.25')"
pass "no process of the timed-out job survives"

# ---------------------------------------------------------------- overrides
workdir overrides
cat >p.yaml <<'YAML'
dag:
  start_at: big
  steps:
    big:
      type: task
      command_type: shell
      command: 'export cpus=$SLURM_CPUS_PER_TASK; export part=$SLURM_JOB_PARTITION'
      overrides: {slurm: two}
      returns: [{name: cpus}, {name: part}]
      next: success
YAML
printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: slurm\n  config:\n    poll_interval: 0.05\n    partition: debug\n    sbatch_args: ["--comment=rn-test"]\n    overrides:\n      two: {cpus: 2, memory: 100M, sbatch_args: ["--nice=1"]}\n' >cfg.yaml
rn execute p.yaml o1 -c cfg.yaml
expect_rc 0 "a step with a Slurm override"
rn runs show o1 --json -c cfg.yaml
cp "$OUT" o1.json
assert_eq_py o1.json 'values(doc["parameters"])["cpus"]' '2' "override cpus: 2 is the job's --cpus-per-task"
job=$(json_get o1.json 'doc["steps"]["big"]["attempts"][0]["slurm"]["job_id"]')
info=$(scontrol -o show job "$job")
for want in 'Partition=debug' 'Comment=rn-test' 'Nice=1' 'MinMemoryNode=100M'; do
    case $info in *"$want"*) ;; *) fail "the job carries $want" "$info" ;; esac
done
pass "partition, sbatch_args, memory and per-override sbatch_args reach sbatch"
printf 'pipeline-executor:\n  type: slurm\n  config:\n    overrides:\n      x: {cores: 2}\n' >bad.yaml
rn execute p.yaml bad -c bad.yaml
expect_rc 2 "an unknown override setting is an input error"
expect_err_has "cores" "the error names the setting"

# ---------------------------------------------------------------- Ctrl-C
workdir sigint
echo 'items: [1, 2, 3, 4]' >p.yaml
slurm_cfg cfg.yaml ", enable_parallel: true"
rn_bg execute "$F/sleepers.yaml" si -p p.yaml -c cfg.yaml
for _ in $(seq 1 200); do [ -e started.txt ] && [ "$(wc -l <started.txt)" -ge 4 ] && break; sleep 0.05; done
[ "$(queued)" -ge 4 ] || fail "four jobs are in the queue" "$(squeue)"
kill -INT "$ENGINE"
rn_wait
expect_rc 130 "Ctrl-C: exit status 130"
[ "$(queued)" = 0 ] || fail "Ctrl-C leaves no job in the queue" "$(squeue)"
pass "Ctrl-C cancelled every job: squeue is empty"
rn runs show si --json -c cfg.yaml
cp "$OUT" si.json
assert_eq_py si.json 'doc["status"]' '"FAIL"' "the run is recorded FAIL"
assert_py si.json 'all(a["message"] == "interrupted by SIGINT" and a["slurm"]["state"] == "CANCELLED" for b in doc["steps"]["fan"]["branches"].values() for s in b["steps"].values() for a in s["attempts"])' \
    "every cancelled job's attempt says interrupted by SIGINT, and its Slurm state"
sleep 0.3
pgrep -f 'sleep 55.5' >/dev/null && fail "no job process survives Ctrl-C" "$(pgrep -fa 'sleep 55.5')"
pass "no job process survives Ctrl-C"

# ---------------------------------------------------------------- resume
workdir resume
slurm_cfg cfg.yaml ", enable_parallel: true"
echo 'items: [1, 2, 3]' >p.yaml
rn execute "$F/resume.yaml" rs -p p.yaml -c cfg.yaml
expect_rc 1 "the first run fails in one map iteration"
touch fixed
: >ran.txt
rn retry rs -c cfg.yaml
expect_rc 0 "runnable retry completes the run under slurm"
[ "$(tr '\n' ' ' <ran.txt)" = "work 2 last [6, 7, 8] " ] ||
    fail "only the failed iteration and what follows ran again" "ran: $(tr '\n' ' ' <ran.txt)"
pass "only the failed iteration and the steps after it ran again"
rn runs show rs --json -c cfg.yaml
cp "$OUT" rs.json
assert_eq_py rs.json 'doc["status"]' '"SUCCESS"' "the retried run is SUCCESS"

# ---------------------------------------------------------------- no Slurm
workdir no_tools
printf 'pipeline-executor:\n  type: slurm\n' >cfg.yaml
PATH=/nonexistent rn execute "$RN_SRCDIR/examples/hello.yaml" nt -c cfg.yaml
expect_rc 2 "without Slurm's tools the run does not start"
expect_err_has "sbatch" "the error names the missing tool"
[ ! -e .run_log_store ] || fail "nothing is written without Slurm" "$(ls -R .run_log_store)"
pass "nothing is written without Slurm"
