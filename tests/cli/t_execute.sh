#!/bin/bash
# runnable execute: examples/hello.yaml end to end, run ids, the summary,
# the run log document, execution logs, failures, --tag and what tasks see.
. "$(dirname "$0")/lib.sh"

HELLO=$RN_SRCDIR/examples/hello.yaml
P=$FIXTURES/pipelines

# ---------------------------------------------------------------- hello.yaml
workdir hello
rn execute "$HELLO"
expect_rc 0 "execute examples/hello.yaml succeeds"
expect_out_re '^run [^ ]+: SUCCESS ' "summary line says SUCCESS"
RID=$(run_id_from_stdout)
[ -n "$RID" ] || fail "summary line names the run id" "no 'run ID: STATUS' line on stdout"
pass "summary line names the run id ($RID)"
echo "$RID" | grep -E -q '^[a-z]+-[a-z]+-[0-9]{4}$' ||
    fail "generated run id has the form adjective-surname-HHMM" "got '$RID'"
pass "generated run id has the form adjective-surname-HHMM"
LOG=.run_log_store/$RID.json
expect_file "$LOG" "run log written to .run_log_store/<run_id>.json"
[ "$(only_run_log)" = "$LOG" ] || fail "only one run log written"
pass "only one run log written"

assert_eq_py "$LOG" 'doc["run_id"]' "'$RID'" "run log run_id"
assert_eq_py "$LOG" 'doc["status"]' '"SUCCESS"' "run status SUCCESS"
# Key order differs on purpose (run_config before steps, docs/compatibility.md).
assert_eq_py "$LOG" 'sorted(doc)' \
    'sorted(["run_id", "dag_hash", "tag", "status", "steps", "job", "parameters", "run_config"])' \
    "root has runnable's keys"
assert_eq_py "$LOG" 'sorted(steps)' '["check", "greet", "prepare", "success"]' \
    "steps prepare, greet, check, success"
assert_eq_py "$LOG" 'statuses()' \
    '{"prepare": "SUCCESS", "greet": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' \
    "every step SUCCESS"
assert_eq_py "$LOG" '{n: (s["name"], s["internal_name"], s["step_type"]) for n, s in steps.items()}' \
    '{"prepare": ["prepare", "prepare", "stub"], "greet": ["greet", "greet", "task"],
      "check": ["check", "check", "task"], "success": ["success", "success", "success"]}' \
    "step names, internal names and types"
assert_eq_py "$LOG" 'sorted(set(k for s in steps.values() for k in s))' \
    'sorted(["name", "internal_name", "status", "step_type", "message", "mock", "attempts", "branches", "data_catalog"])' \
    "every step log has runnable's keys"
assert_eq_py "$LOG" '{n: [a["attempt_number"] for a in s["attempts"]] for n, s in steps.items()}' \
    '{"prepare": [1], "greet": [1], "check": [1], "success": [1]}' \
    "one attempt per step, attempt_number 1"
assert_eq_py "$LOG" '{n: s["attempts"][0]["status"] for n, s in steps.items()}' \
    '{"prepare": "SUCCESS", "greet": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' \
    "every attempt SUCCESS"
assert_py "$LOG" 'all(is_ts(a["start_time"]) and is_ts(a["end_time"]) and ts(a["start_time"]) <= ts(a["end_time"]) for s in steps.values() for a in s["attempts"])' \
    "start/end times in Python datetime format, start <= end"
assert_py "$LOG" 'ts(attempt("prepare")["end_time"]) <= ts(attempt("greet")["start_time"]) <= ts(attempt("check")["start_time"]) <= ts(attempt("success")["start_time"])' \
    "steps ran in order"
assert_eq_py "$LOG" 'attempt("greet")["output_parameters"]["greeting"]["value"]' '"hello, world"' \
    "greet returned greeting = \"hello, world\""
assert_eq_py "$LOG" 'attempt("greet")["output_parameters"]["count"]' \
    '{"kind": "json", "value": 3, "description": 3}' "greet returned count = 3 (a number, kind json)"
assert_eq_py "$LOG" 'attempt("greet")["user_defined_metrics"]' '{}' "no metrics declared, none recorded"
assert_eq_py "$LOG" 'values(doc["parameters"])' '{"greeting": "hello, world", "count": 3}' \
    "root parameters hold the returns"
assert_eq_py "$LOG" 'attempt("check")["input_parameters"]' \
    '{"greeting": {"kind": "json", "value": "hello, world", "description": "hello, wor..."}, "count": {"kind": "json", "value": 3, "description": 3}}' \
    "check's input_parameters (with runnable's derived descriptions)"
assert_py "$LOG" 'isinstance(doc["dag_hash"], str) and re.fullmatch("[0-9a-f]{40}", doc["dag_hash"])' \
    "dag_hash is 40 hex digits"
assert_eq_py "$LOG" 'doc["dag_hash"]' \
    'hashlib.sha1(json.dumps(doc["run_config"]["dag"], sort_keys=True).encode()).hexdigest()' \
    "dag_hash is the SHA-1 of the sorted-key dump of run_config.dag"
assert_eq_py "$LOG" 'doc["run_config"]["dag_hash"]' 'doc["dag_hash"]' "run_config.dag_hash equals dag_hash"
assert_eq_py "$LOG" '(doc["run_config"]["dag"]["start_at"], sorted(doc["run_config"]["dag"]["nodes"]))' \
    '["prepare", ["check", "fail", "greet", "prepare", "success"]]' \
    "run_config.dag holds the graph with its implicit success and fail"
assert_eq_py "$LOG" '{k: doc["run_config"][k] for k in ("execution_mode", "run_id", "tag", "pipeline_definition_file")}' \
    "{'execution_mode': 'yaml', 'run_id': '$RID', 'tag': '', 'pipeline_definition_file': '$HELLO'}" \
    "run_config records mode, run id, tag and the pipeline file"
assert_eq_py "$LOG" '[doc["run_config"][k]["service_name"] for k in ("pipeline_executor", "run_log_store", "catalog", "secrets")]' \
    '["local", "file-system", "file-system", "env-secrets"]' "embedded default services recorded"
assert_py "$LOG" 'all(c.get("code_identifier_type") == "git" for s in steps.values() for a in s["attempts"] for c in a["code_identities"])' \
    "code identities absent or git"
assert_eq_py "$LOG" 'doc["job"]' 'None' "job is null for a pipeline run"

# An execution log for each task that printed something, named after the
# step; silent tasks, stubs and terminal steps leave none
# (docs/compatibility.md).
CAT=.catalog/$RID
[ -d "$CAT" ] || fail "catalog run folder .catalog/<run_id> exists"
pass "catalog run folder .catalog/<run_id> exists"
n=$(find "$CAT" -maxdepth 1 -name '*.execution.log' | sed 's,.*/,,' |
    grep -E -c "^greet[A-Z0-9]{3}\.execution\.log$" || true)
[ "$n" -eq 1 ] || fail "one execution log for task greet" "found $n; catalog has: $(ls -A "$CAT" | tr '\n' ' ')"
n=$(find "$CAT" -name '*.execution.log' | wc -l)
[ "$n" -eq 1 ] || fail "no execution log for steps that printed nothing" "found $n: $(ls -A "$CAT" | tr '\n' ' ')"
pass "one execution log for the task that printed (<name>XXX.execution.log), none for the rest"
grep -q -F "hello from $RID" "$CAT"/greet*.execution.log ||
    fail "greet's execution log holds its output" "$(cat "$CAT"/greet*.execution.log)"
pass "greet's execution log holds its output (with RUNNABLE_RUN_ID)"

# ---------------------------------------------------------------- run ids
workdir runids
rn execute "$HELLO" my-run-1
expect_rc 0 "positional run id"
expect_out_re '^run my-run-1: SUCCESS' "summary names the positional run id"
expect_file .run_log_store/my-run-1.json "run log named after the positional run id"
assert_eq_py .run_log_store/my-run-1.json 'doc["run_id"]' '"my-run-1"' "run log records the positional run id"

rn execute "$HELLO" --run-id my-run-2
expect_rc 0 "--run-id"
expect_file .run_log_store/my-run-2.json "run log named after --run-id"

RUNNABLE_RUN_ID=my-run-3 rn execute "$HELLO"
expect_rc 0 "RUNNABLE_RUN_ID"
expect_file .run_log_store/my-run-3.json "run log named after RUNNABLE_RUN_ID"

RUNNABLE_RUN_ID=from-env rn execute "$HELLO" my-run-4
expect_rc 0 "explicit run id with RUNNABLE_RUN_ID also set"
expect_file .run_log_store/my-run-4.json "the explicit run id wins over RUNNABLE_RUN_ID"
expect_no_file .run_log_store/from-env.json "no run under RUNNABLE_RUN_ID's id"

rn execute "$HELLO" my-run-x --run-id my-run-y
expect_rc 2 "a positional run id and --run-id together are refused"
expect_no_file .run_log_store/my-run-x.json "nothing run under the positional id"
expect_no_file .run_log_store/my-run-y.json "nothing run under the --run-id id"
rn execute -f "$HELLO" my-run-5
expect_rc 0 "execute -f FILE (the form runnable's docs use)"
assert_eq_py .run_log_store/my-run-5.json 'doc["status"]' '"SUCCESS"' "-f run succeeded"

before=$(sha256sum .run_log_store/my-run-1.json)
ncat=$(find .catalog/my-run-1 -type f | wc -l)
rn execute "$HELLO" my-run-1
expect_rc 2 "same run id twice is refused"
expect_err_has "my-run-1" "the refusal names the run id"
expect_err_re '[Ee]xist' "the refusal says the run exists"
[ "$(sha256sum .run_log_store/my-run-1.json)" = "$before" ] ||
    fail "the first run log is untouched"
pass "the first run log is untouched"
[ "$(find .catalog/my-run-1 -type f | wc -l)" -eq "$ncat" ] ||
    fail "the first run's catalog is untouched" "had $ncat files, now $(find .catalog/my-run-1 -type f | wc -l)"
pass "the first run's catalog is untouched"
[ "$(find .run_log_store -maxdepth 1 -name '*.json' | wc -l)" -eq 5 ] || fail "five run logs after five runs"
pass "five run logs after five runs"

# ---------------------------------------------------------------- git identity
# Inside a git work tree every task/stub attempt records the commit.
if command -v git >/dev/null 2>&1; then
    workdir gitrepo
    git init -q . && printf 'data\n' >tracked.txt && git add tracked.txt &&
        git -c user.name=rn-test -c user.email=rn-test@example.invalid \
            -c commit.gpgsign=false commit -q -m init &&
        git remote add origin https://example.invalid/team/pipelines.git ||
        fail "set up a throwaway git repository"
    HEAD=$(git rev-parse HEAD)
    rn execute "$HELLO" in-git
    expect_rc 0 "execute inside a git work tree"
    LOG=.run_log_store/in-git.json
    assert_eq_py "$LOG" '[(c["code_identifier_type"], c["code_identifier"], c["code_identifier_dependable"], c["code_identifier_url"], c["code_identifier_message"]) for c in attempt("greet")["code_identities"]]' \
        "[['git', '$HEAD', True, 'https://example.invalid/team/pipelines.git', '']]" \
        "git identity on a task attempt: commit, clean, origin url"
    assert_eq_py "$LOG" '[c["code_identifier"] for c in attempt("prepare")["code_identities"]]' \
        "['$HEAD']" "git identity on a stub attempt"
    printf 'changed\n' >tracked.txt
    rn execute "$HELLO" in-dirty-git
    expect_rc 0 "execute inside a modified git work tree"
    assert_eq_py .run_log_store/in-dirty-git.json \
        '[(c["code_identifier_dependable"], c["code_identifier_message"]) for c in attempt("greet")["code_identities"]]' \
        '[[False, "changes found in tracked.txt"]]' "a modified tracked file makes the identity not dependable"
fi

# ---------------------------------------------------------------- failures
workdir fail
rn execute "$P/fail.yaml" failing
expect_rc 1 "a failing task fails the run"
expect_out_re '^run failing: FAIL' "summary line says FAIL"
expect_err_has "failing" "stderr names the failed run"
LOG=.run_log_store/failing.json
assert_eq_py "$LOG" 'doc["status"]' '"FAIL"' "run status FAIL"
assert_eq_py "$LOG" 'statuses()' '{"boom": "FAIL", "fail": "SUCCESS"}' \
    "steps: boom FAIL, then fail (after never ran)"
assert_eq_py "$LOG" '(attempt("boom")["status"], attempt("boom")["attempt_number"])' '["FAIL", 1]' \
    "boom's attempt FAIL"
assert_eq_py "$LOG" 'step("fail")["step_type"]' '"fail"' "the fail step has step_type fail"
expect_no_file after-ran.txt "the step after the failure never ran"
grep -q -F "something went wrong" .catalog/failing/boom*.execution.log ||
    fail "the failed task's stderr is in its execution log" "$(cat .catalog/failing/boom*.execution.log 2>&1)"
pass "the failed task's stderr is in its execution log"

workdir on_failure
rn execute "$P/on_failure.yaml" diverted
expect_rc 0 "on_failure to a recovery step that succeeds: run succeeds"
LOG=.run_log_store/diverted.json
assert_eq_py "$LOG" 'doc["status"]' '"SUCCESS"' "run status SUCCESS"
assert_eq_py "$LOG" 'statuses()' '{"boom": "FAIL", "cleanup": "SUCCESS", "success": "SUCCESS"}' \
    "steps: boom FAIL, cleanup, success"
expect_file cleanup-ran.txt "the on_failure step ran"
expect_no_file after-ran.txt "the next step of the failed one never ran"

# The catalog cannot be written (a file sits where its folder goes): the
# step cannot keep its output, so it fails and says why; the run is
# recorded FAIL, never left PROCESSING.
workdir hard_error
touch .catalog
rn execute "$HELLO" hard
expect_rc 1 "a step that cannot write its log fails the run"
assert_py .run_log_store/hard.json \
    '"/.catalog/hard/" in doc["steps"]["greet"]["attempts"][0]["message"]' \
    "the step's message names the unwritable catalog path"
assert_eq_py .run_log_store/hard.json 'doc["status"]' '"FAIL"' "the run is recorded FAIL, not PROCESSING"

# ---------------------------------------------------------------- environment
workdir env
RN_TEST_MARKER=inherited rn execute "$P/env.yaml" env-run --tag "nightly build"
expect_rc 0 "execute --tag"
LOG=.run_log_store/env-run.json
assert_eq_py "$LOG" 'doc["tag"]' '"nightly build"' "tag stored on the run"
assert_eq_py "$LOG" 'doc["run_config"]["tag"]' '"nightly build"' "tag stored in run_config"
expect_file env.txt "the task wrote what it saw"
check_env() {
    local got
    got=$(sed -n "s/^$1=//p" env.txt)
    [ "$got" = "$2" ] || fail "$3" "expected $1=$2" "got      $1=$got"
    pass "$3"
}
check_env tag "nightly build" "RUNNABLE_RUN_TAG visible to the task"
check_env attempt 1 "RUNNABLE_STEP_ATTEMPT=1 visible to the task"
check_env run_id env-run "RUNNABLE_RUN_ID visible to the task"
check_env home "${HOME-unset}" "HOME visible to the task (DESIGN §2)"
check_env path "$PATH" "PATH visible to the task (DESIGN §2)"
check_env from_engine inherited "the engine's environment is inherited (DESIGN §2)"

rn execute "$P/env.yaml" untagged
expect_rc 0 "execute without --tag"
assert_eq_py .run_log_store/untagged.json 'doc["tag"]' '""' "tag defaults to \"\""
check_env tag unset "RUNNABLE_RUN_TAG unset without --tag"

done_testing
