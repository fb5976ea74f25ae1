#!/bin/bash
# Failure handling (issue: retries, timeouts, signals, resume): attempts
# with backoff, timeouts that leave no process behind, Ctrl-C/SIGTERM that
# stop a parallel run cleanly, `runnable retry` inside nested composites.
. "$(dirname "$0")/lib.sh"

F=$FIXTURES/failures
alive() { pgrep -f "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- retries
workdir retries
rn execute "$F/retries.yaml" r1
expect_rc 1 "the run fails (the slow step always times out)"
LOG=.run_log_store/r1.json
assert_eq_py "$LOG" '[a["status"] for a in step("flaky")["attempts"]]' '["FAIL", "FAIL", "SUCCESS"]' \
    "flaky: two failed attempts, then success, each recorded"
assert_eq_py "$LOG" '[a["attempt_number"] for a in step("flaky")["attempts"]]' '[1, 2, 3]' \
    "attempt numbers 1, 2, 3"
assert_eq_py "$LOG" 'step("flaky")["status"]' '"SUCCESS"' "the step's status is its last attempt's"
[ "$(cat attempts.txt | tr '\n' ' ')" = "attempt 1 attempt 2 attempt 3 " ] ||
    fail "RUNNABLE_STEP_ATTEMPT reaches the task" "got: $(cat attempts.txt)"
pass "RUNNABLE_STEP_ATTEMPT is 1, 2, 3"
# Backoff: delay 0.2 then 0.4 (factor 2) between attempts.
assert_py "$LOG" '(ts(attempt("flaky", 1)["start_time"]) - ts(attempt("flaky", 0)["end_time"])).total_seconds() >= 0.19' \
    "second attempt waits the first delay (0.2 s)"
assert_py "$LOG" '(ts(attempt("flaky", 2)["start_time"]) - ts(attempt("flaky", 1)["end_time"])).total_seconds() >= 0.39' \
    "third attempt waits twice as long (factor 2)"

# ---------------------------------------------------------------- timeouts
assert_eq_py "$LOG" '[a["message"] for a in step("slow")["attempts"]]' \
    '["timed out after 0.5 s", "timed out after 0.5 s"]' "a timed-out attempt says so, and retries apply"
assert_eq_py "$LOG" 'step("slow")["status"]' '"FAIL"' "the timed-out step fails"
assert_eq_py "$LOG" 'statuses()["fail"]' '"SUCCESS"' "the graph's fail step ran"
sleep 0.2
alive 'sleep 53.5' && fail "no process of a timed-out task survives" "$(pgrep -fa 'sleep 53.5')"
pass "no process of a timed-out task (or its background child) survives"

workdir exhausted
rn execute "$F/exhausted.yaml" ex
expect_rc 1 "a step failing every attempt fails the run"
[ "$(wc -l <tries.txt)" -eq 3 ] || fail "max_attempts: 3 runs the task three times" "$(wc -l <tries.txt) runs"
pass "max_attempts: 3 runs the task three times, at once without a retry block"
assert_eq_py .run_log_store/ex.json 'statuses()["cleanup"]' '"SUCCESS"' "on_failure followed after the last attempt"

workdir cli_timeout
rn execute "$F/long.yaml" lt --timeout 0.3
expect_rc 1 "--timeout stops a task that has no timeout of its own"
assert_eq_py .run_log_store/lt.json 'attempt("long")["message"]' '"timed out after 0.3 s"' \
    "the attempt records the run-wide timeout"
workdir cli_timeout_bad
rn execute "$F/long.yaml" bad --timeout soon
expect_rc 2 "--timeout needs a number"
expect_nothing_written "--timeout soon"

# ---------------------------------------------------------------- signals
# Ctrl-C during a parallel map: every task's process group goes, the run
# log is complete and valid, exit 130.
workdir sigint
echo 'items: [1, 2, 3, 4, 5, 6]' >p.yaml
rn_bg execute "$F/sleepers.yaml" si -p p.yaml -c "$F/parallel.config.yaml"
for _ in $(seq 1 200); do [ -e started.txt ] && [ "$(wc -l <started.txt)" -ge 6 ] && break; sleep 0.02; done
kill -INT "$ENGINE"
rn_wait
expect_rc 130 "Ctrl-C: exit status 130"
expect_err_has "interrupted by SIGINT" "the reason is printed"
alive 'sleep 55.5' && fail "no task survives Ctrl-C" "$(pgrep -fa 'sleep 55.5')"
pass "no task process survives Ctrl-C"
LOG=.run_log_store/si.json
assert_eq_py "$LOG" 'doc["status"]' '"FAIL"' "the run is recorded FAIL"
assert_eq_py "$LOG" 'step("fan")["status"]' '"FAIL"' "the map step is recorded FAIL"
assert_py "$LOG" 'all(b["status"] == "FAIL" and all(a["message"] == "interrupted by SIGINT" for s in b["steps"].values() for a in s["attempts"]) for b in step("fan")["branches"].values())' \
    "every running attempt is recorded as interrupted by SIGINT"

# SIGTERM with 100 tasks running: how long until the engine is gone.
workdir sigterm
$PY -c 'print("items: %s" % list(range(100)))' >p.yaml
rn_bg execute "$F/sleepers.yaml" st -p p.yaml -c "$F/parallel.config.yaml"
for _ in $(seq 1 500); do [ -e started.txt ] && [ "$(wc -l <started.txt)" -ge 100 ] && break; sleep 0.02; done
t0=$(date +%s.%N)
kill -TERM "$ENGINE"
rn_wait
t1=$(date +%s.%N)
expect_rc 143 "SIGTERM: exit status 143"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "# SIGTERM to exit with 100 running tasks: $secs s"
awk -v s="$secs" 'BEGIN { exit !(s < 3) }' || fail "SIGTERM with 100 tasks stops within 3 s" "took $secs s"
pass "SIGTERM with 100 running tasks: exited in $secs s"
alive 'sleep 55.5' && fail "no task survives SIGTERM" "$(pgrep -fa 'sleep 55.5')"
pass "no task process survives SIGTERM"
assert_py .run_log_store/st.json 'len(step("fan")["branches"]) == 100' "all 100 branches recorded"

# Tasks that ignore SIGTERM: the second Ctrl-C kills at once instead of
# waiting out the grace period (5 s here).
workdir second_ctrl_c
echo 'items: [1, 2]' >p.yaml
rn_bg execute "$F/stubborn.yaml" sc -p p.yaml -c "$F/parallel.config.yaml"
for _ in $(seq 1 200); do [ -e started.txt ] && [ "$(wc -l <started.txt)" -ge 2 ] && break; sleep 0.02; done
t0=$(date +%s.%N)
kill -INT "$ENGINE"
sleep 0.3
kill -INT "$ENGINE"
rn_wait
t1=$(date +%s.%N)
expect_rc 130 "second Ctrl-C: exit status 130"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2.5) }' ||
    fail "the second Ctrl-C does not wait for the grace period"
pass "the second Ctrl-C kills at once"
alive 'sleep 56.5' && fail "no stubborn task survives" "$(pgrep -fa 'sleep 56.5')"
pass "no task that ignored SIGTERM survives"

# ---------------------------------------------------------------- resume
for store in file-system chunked-fs; do
    workdir "resume_$store"
    printf 'run-log-store:\n  type: %s\n' "$store" >cfg.yaml
    echo 'items: [1, 2, 3]' >p.yaml
    rn execute "$F/resume.yaml" rs -p p.yaml -c cfg.yaml
    expect_rc 1 "$store: first run fails in one map iteration"
    touch fixed
    : >ran.txt
    rn retry rs -c cfg.yaml
    expect_rc 0 "$store: runnable retry completes the run"
    [ "$(tr '\n' ' ' <ran.txt)" = "work 2 last [6, 7, 8] " ] ||
        fail "$store: only the failed iteration and what follows ran again" "ran: $(tr '\n' ' ' <ran.txt)"
    pass "$store: only the failed iteration and the steps after it ran again"
done
LOG=.run_log_store/rs.json
workdir resume_check
cp -r "$RN_TMP/resume_file-system/.run_log_store" .
LOG=.run_log_store/rs.json
assert_eq_py "$LOG" 'doc["status"]' '"SUCCESS"' "the retried run is SUCCESS"
assert_eq_py "$LOG" '[a["status"] for a in step("split.left.per.2.work")["attempts"]]' '["FAIL", "SUCCESS"]' \
    "the failed step inside the nested map got a second attempt"
assert_eq_py "$LOG" 'len(step("split.left.per.1.work")["attempts"])' '1' "succeeded steps keep one attempt"
assert_eq_py "$LOG" 'values(doc["parameters"])["out"]' '[6, 7, 8]' "parameters of skipped iterations are merged"

# RUNNABLE_RETRY_RUN_ID: runnable's own form.
workdir retry_env
echo 'items: [1, 2, 3]' >p.yaml
rn execute "$F/resume.yaml" re -p p.yaml
expect_rc 1 "first run fails"
touch fixed
RUNNABLE_RETRY_RUN_ID=re rn execute "$F/resume.yaml"
expect_rc 0 "RUNNABLE_RETRY_RUN_ID=<id> runnable execute resumes the run"
expect_out_re '^run re: SUCCESS' "under the same run id"

# A changed pipeline is refused, saying what changed; --force runs it.
workdir changed
echo 'items: [1, 2, 3]' >p.yaml
sed 's/echo side/echo other side/' "$F/resume.yaml" >changed.yaml
cp "$F/resume.yaml" pipe.yaml
rn execute pipe.yaml ch -p p.yaml
expect_rc 1 "first run fails"
cp changed.yaml pipe.yaml
touch fixed
rn retry ch
expect_rc 2 "a changed pipeline is refused"
expect_err_has "step 'split.right.side' changed" "the refusal names the changed step"
rn retry ch --force
expect_rc 0 "--force retries the changed pipeline"
rn retry nosuchrun
expect_rc 2 "retrying an unknown run is an input error"
expect_err_has "nosuchrun" "the message names the run"

done_testing
