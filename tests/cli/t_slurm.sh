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
    printf 'run-log-store:\n  type: chunked-fs\npipeline-executor:\n  type: slurm\n  config: {poll_interval: 0.05, max_submitted: 16%s}\n' \
        "${2:-}" >"$1"
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
