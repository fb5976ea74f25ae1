#!/bin/bash
# Test runs with the mocked executor (spec/services.md §4.6 with DESIGN
# §2's fixes): nothing runs unless patched, no catalog I/O, steps marked
# mock; a patch keeps the patched step's other fields.
. "$(dirname "$0")/lib.sh"

M=$FIXTURES/mocked

workdir none
rn execute "$M/pipeline.yaml" m1 -c "$M/none.config.yaml"
expect_rc 0 "every step mocked: the run succeeds"
expect_no_file fetched.txt "a mocked task does not run"
expect_no_file trained.txt "no mocked task runs"
LOG=.run_log_store/m1.json
assert_py "$LOG" 'all(s["mock"] for n, s in steps.items() if n in ("fetch", "train", "check"))' \
    "mocked steps are recorded with mock: true"
assert_eq_py "$LOG" 'step("fetch")["data_catalog"]' '[]' "no catalog I/O (the missing get does not fail)"
assert_eq_py "$LOG" 'attempt("train")["output_parameters"]' '{}' "a mocked task returns nothing"

workdir patched
rn execute "$M/pipeline.yaml" m2 -c "$M/patched.config.yaml"
expect_rc 0 "a patched step runs"
expect_file patched.txt "the patch's command ran"
expect_no_file trained.txt "the original command did not"
LOG=.run_log_store/m2.json
assert_eq_py "$LOG" 'values(doc["parameters"])["score"]' '0.9' \
    "the patch inherits the step's returns"
assert_eq_py "$LOG" 'step("train")["mock"]' 'True' "the patched step is marked mock"

workdir failing
rn execute "$M/pipeline.yaml" m3 -c "$M/failing.config.yaml"
expect_rc 1 "a failing patch fails the run"
assert_eq_py .run_log_store/m3.json 'statuses()["train"]' '"FAIL"' "the patched step failed"

workdir typo
rn execute "$M/pipeline.yaml" m4 -c "$M/typo.config.yaml"
expect_rc 2 "a patch naming no step is an input error"
expect_err_re "typo.config.yaml:[0-9]+:[0-9]+: patch 'trian' names no task" "the error names the file and the patch"
expect_nothing_written "a bad patch"

done_testing
