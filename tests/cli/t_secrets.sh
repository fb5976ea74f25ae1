#!/bin/bash
# Secrets: env-secrets (the default) and dotenv reach the task that lists
# them; a value is never written by the engine (run log, catalog, its own
# output); a missing secret fails the step, not the whole run.
. "$(dirname "$0")/lib.sh"

P=$FIXTURES/pipelines
SECRET=s3cr3t-value-42
unset MY_SECRET || true

# leaks WHERE...: files under WHERE holding the secret value.
leaks() {
    grep -r -F -l -e "$SECRET" "$@" 2>/dev/null || true
}

# ---------------------------------------------------------------- env-secrets
workdir printed
MY_SECRET=$SECRET rn execute "$P/secret_print.yaml" sp
expect_rc 0 "env-secrets: the task gets MY_SECRET's value"
assert_eq_py .run_log_store/sp.json 'statuses()' '{"use secret": "SUCCESS", "success": "SUCCESS"}' \
    "the step that checks the value succeeds"
[ -z "$(leaks .run_log_store)" ] || fail "the secret value is not in the run log" "found in: $(leaks .run_log_store)"
pass "the secret value is not in the run log"
# The task printed the value itself: its execution log shows that line (the
# value, or a redaction of it); no other file may hold the value.
grep -q -F "the secret is " .catalog/sp/usesecret*.execution.log ||
    fail "what the task printed is in its execution log" "$(cat .catalog/sp/usesecret*.execution.log 2>&1)"
pass "what the task printed itself is in its execution log"
other=$(leaks .catalog | grep -v '/usesecret[A-Z0-9]\{3\}\.execution\.log$' || true)
[ -z "$other" ] || fail "the value is in no other catalog file" "found in: $other"
pass "the value is in no other catalog file"
[ -z "$(leaks "$OUT" "$ERR")" ] || fail "the engine's own output does not show the value"
pass "the engine's own output does not show the value"

workdir quiet
MY_SECRET=$SECRET rn execute "$P/secret_quiet.yaml" sq
expect_rc 0 "a task that uses the secret without printing it"
LOG=.run_log_store/sq.json
assert_eq_py "$LOG" 'statuses()' '{"before": "SUCCESS", "use secret": "SUCCESS", "success": "SUCCESS"}' \
    "every step SUCCESS"
assert_eq_py "$LOG" 'values(attempt("use secret")["output_parameters"])' '{"verdict": "ok"}' \
    "its returns are collected"
assert_py "$LOG" '"MY_SECRET" not in attempt("use secret")["input_parameters"] and "MY_SECRET" not in doc["parameters"]' \
    "the secret is not a parameter"
expect_file .catalog/sq/report.txt "its catalog put worked"
[ -z "$(leaks .run_log_store .catalog "$OUT" "$ERR")" ] ||
    fail "no trace of the value in .run_log_store, .catalog or the engine's output" \
        "found in: $(leaks .run_log_store .catalog "$OUT" "$ERR")"
pass "no trace of the value in .run_log_store, .catalog or the engine's output"

workdir wrong_value
MY_SECRET=not-the-secret rn execute "$P/secret_quiet.yaml" wrong
expect_rc 1 "a wrong value fails the checking step"
assert_eq_py .run_log_store/wrong.json 'step("use secret")["status"]' '"FAIL"' "the checking step FAILs"

# ---------------------------------------------------------------- missing
workdir missing
rn execute "$P/secret_missing.yaml" sm
expect_rc 1 "a missing secret fails the run (on_failure leads to fail)"
expect_out_re '^run sm: FAIL' "the run ends normally with a FAIL summary (not a hard abort)"
LOG=.run_log_store/sm.json
assert_eq_py "$LOG" 'doc["status"]' '"FAIL"' "run status FAIL, not PROCESSING"
assert_eq_py "$LOG" 'statuses()' '{"needs secret": "FAIL", "notify": "SUCCESS", "fail": "SUCCESS"}' \
    "the step FAILs and on_failure (notify) is followed"
assert_py "$LOG" '"RN_TEST_NO_SUCH_SECRET" in attempt("needs secret")["message"]' \
    "the attempt's message names the missing secret"
grep -q -F RN_TEST_NO_SUCH_SECRET .catalog/sm/needssecret*.execution.log ||
    fail "the execution log names the missing secret" "$(cat .catalog/sm/needssecret*.execution.log 2>&1)"
pass "the execution log names the missing secret"
expect_no_file task-ran.txt "the task without its secret never ran"
expect_file notified.txt "the on_failure step ran"

# ---------------------------------------------------------------- dotenv
workdir dotenv
cp "$FIXTURES/configs/dotenv.yaml" .
printf '# secrets for the test\nexport OTHER=1\nMY_SECRET=%s\n' "$SECRET" >my.env
rn execute "$P/secret_quiet.yaml" dq -c dotenv.yaml
expect_rc 0 "dotenv: the secret comes from my.env (not in the environment)"
assert_eq_py .run_log_store/dq.json 'doc["run_config"]["secrets"]["service_name"]' '"dotenv"' \
    "run_config records the dotenv secrets provider"
[ -z "$(leaks .run_log_store .catalog "$OUT" "$ERR")" ] ||
    fail "dotenv: no trace of the value written" "found in: $(leaks .run_log_store .catalog "$OUT" "$ERR")"
pass "dotenv: no trace of the value in .run_log_store, .catalog or the engine's output"

rn execute "$P/secret_print.yaml" dp -c dotenv.yaml
expect_rc 0 "dotenv: the printing task also gets the value"

rm my.env
rn execute "$P/secret_quiet.yaml" dmissing -c dotenv.yaml
expect_rc 1 "dotenv: a missing .env file fails the step that needs it"
assert_eq_py .run_log_store/dmissing.json 'statuses()' \
    '{"before": "SUCCESS", "use secret": "FAIL", "fail": "SUCCESS"}' \
    "dotenv: steps without secrets are unaffected, the one with FAILs"
assert_py .run_log_store/dmissing.json '"my.env" in attempt("use secret")["message"]' \
    "dotenv: the message names the missing file"

done_testing
