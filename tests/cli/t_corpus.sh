#!/bin/bash
# The compatibility corpus (shared/runnable-examples, README there):
#  1. every pipeline validates (python and notebook tasks included: their
#     runs are in t_corpus_python.sh);
#  2. every configuration is accepted, or fails only because its provider
#     type is not installed yet, and the error names that type;
#  3. the shell-only pipelines marked "yes" run with the expected outcome.
. "$(dirname "$0")/lib.sh"
require_corpus

HELLO=$RN_SRCDIR/examples/hello.yaml

# read_messages: MSGS = the error lines of the last command with their
# "runnable: error: FILE:LINE:COL: " prefix removed, NMSG = how many.
read_messages() {
    local line
    MSGS=()
    while IFS= read -r line; do
        case $line in
            "runnable: error: "*) ;;
            *) continue ;;
        esac
        line=${line#runnable: error: }
        if [[ $line =~ ^[^:\ ]+(:[0-9]+){0,2}:\ (.*)$ ]]; then
            line=${BASH_REMATCH[2]}
        fi
        MSGS+=("$line")
    done <"$ERR"
    NMSG=${#MSGS[@]}
}

# ---------------------------------------------------------------- pipelines
workdir validate
npipes=0
while IFS= read -r f; do
    rel=${f#"$CORPUS"/}
    npipes=$((npipes + 1))
    rn validate "$f"
    expect_rc 0 "validate $rel"
done < <(grep -l -E '^dag:' -r "$CORPUS" --include='*.yaml' | sort)
[ "$npipes" -ge 20 ] || fail "corpus pipelines found" "only $npipes files with a top-level dag: key"
pass "$npipes corpus pipelines checked"
expect_nothing_written "validate"

# ---------------------------------------------------------------- configs
# file|outcome|pipeline to validate with (default: examples/hello.yaml)
# outcome: "" accepted; a type name: refused only because that provider
# type is not installed; "error:TEXT": refused with an error saying TEXT.
CONFIGS="configs/default.yaml|
configs/chunked-fs-run_log.yaml|
configs/in-memory.yaml|
configs/parallel_enabled.yaml|
configs/parallel_with_warning.yaml|
configs/dotenv.yaml|
configs/argo-config.yaml|
configs/argo-cron-config.yaml|
configs/local-container.yaml|
configs/emulate.yaml|
configs/minio.yaml|minio
configs/chunked-minio.yaml|minio
configs/retry-config.yaml|retry
08-mocking/mocked-config.yaml|error:patch 'chunk files' names no task or stub
08-mocking/mocked-config-debug.yaml|error:patch 'Retrieve Content' names no task or stub
08-mocking/mocked-config-simple.yaml|
08-mocking/mocked-config-unittest.yaml||01-tasks/stub.yaml"

# Every config file of the corpus must be in the table above.
for f in "$CORPUS"/configs/*.yaml "$CORPUS"/08-mocking/*config*.yaml; do
    rel=${f#"$CORPUS"/}
    printf '%s\n' "$CONFIGS" | cut -d'|' -f1 | grep -q -F -x -e "$rel" ||
        fail "config $rel has an expected outcome in this test" "add it to CONFIGS"
done
pass "every corpus config has an expected outcome"

while IFS='|' read -r rel type pipe; do
    f=$CORPUS/$rel
    [ -f "$f" ] || fail "config $rel exists in the corpus"
    rn validate "${pipe:+$CORPUS/}${pipe:-$HELLO}" -c "$f"
    if [ -z "$type" ]; then
        expect_rc 0 "config $rel accepted${pipe:+ with $pipe}"
        continue
    fi
    if [[ $type == error:* ]]; then
        # Two mocked configs patch steps of pipelines the corpus lacks:
        # runnable ignores such patches, we report them (likely typos).
        expect_rc 2 "config $rel refused"
        expect_err_has "${type#error:}" "config $rel: ${type#error:}"
        continue
    fi
    [ "$RC" -eq 2 ] || fail "config $rel refused: provider type '$type' not installed" "expected exit 2, got $RC"
    read_messages
    [ "$NMSG" -gt 0 ] || fail "config $rel: errors reported" "no 'runnable: error:' line"
    for m in "${MSGS[@]}"; do
        [[ $m == *"'$type'"* ]] ||
            fail "config $rel: every error names the missing type '$type'" "unexpected problem: $m"
    done
    grep -F -q -e "runnable: error: $f:" "$ERR" ||
        fail "config $rel: errors point into the config file (FILE:LINE:COL)"
    pass "config $rel refused only because type '$type' is not installed ($NMSG error(s))"
done <<<"$CONFIGS"

# ---------------------------------------------------------------- runs
# run_corpus REL RUN_ID EXPECTED_RC EXPECTED_STATUS EXPECTED_STEPS(python dict)
run_corpus() {
    local rel=$1 id=$2 erc=$3 status=$4 esteps=$5
    workdir "run-$id"
    rn execute "$CORPUS/$rel" "$id"
    expect_rc "$erc" "run $rel"
    expect_out_re "^run $id: $status " "$rel: summary says $status"
    LOG=.run_log_store/$id.json
    assert_eq_py "$LOG" 'doc["status"]' "'$status'" "$rel: run status $status"
    assert_eq_py "$LOG" 'statuses()' "$esteps" "$rel: exactly the expected steps and statuses"
    n=$(find ".catalog/$id" -name '*.execution.log' | wc -l)
    ns=$(json_get "$LOG" 'len([s for s in steps.values() if s["step_type"] == "task"])')
    [ "$n" -eq "$ns" ] || fail "$rel: one execution log per task in the catalog" "$n logs for $ns tasks"
    pass "$rel: one execution log per task in the catalog ($n)"
}

run_corpus 01-tasks/scripts.yaml scripts 0 SUCCESS '{"shell": "SUCCESS", "success": "SUCCESS"}'
grep -q -F 'hello world!!' .catalog/scripts/shell*.execution.log ||
    fail "01-tasks/scripts.yaml: the echo is in the shell step's execution log"
pass "01-tasks/scripts.yaml: the echo is in the shell step's execution log"

run_corpus 01-tasks/stub.yaml stub 0 SUCCESS \
    '{"step 1": "SUCCESS", "step 2": "SUCCESS", "step 3": "SUCCESS", "success": "SUCCESS"}'
assert_eq_py "$LOG" 'list(steps)' '["step 1", "step 2", "step 3", "success"]' \
    "01-tasks/stub.yaml: steps in execution order"

run_corpus 02-sequential/on_failure_fail.yaml off 1 FAIL \
    '{"step_1": "FAIL", "step_4": "SUCCESS", "fail": "SUCCESS"}'
run_corpus 02-sequential/on_failure_succeed.yaml ofs 0 SUCCESS \
    '{"step_1": "FAIL", "step_4": "SUCCESS", "success": "SUCCESS"}'

run_corpus 04-catalog/catalog_on_fail.yaml cof 0 SUCCESS \
    '{"fail_immediately": "FAIL", "success node": "SUCCESS", "success": "SUCCESS"}'
expect_file .catalog/cof/df.csv "04-catalog/catalog_on_fail.yaml: df.csv in the catalog run folder"
expect_no_file .catalog/cof/data_folder "04-catalog/catalog_on_fail.yaml: data_folder/data.txt absent"
expect_file df.csv "04-catalog/catalog_on_fail.yaml: df.csv left in the working folder"

done_testing
