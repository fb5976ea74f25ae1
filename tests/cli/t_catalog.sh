#!/bin/bash
# The file-system catalog: put, get after a local delete, data_catalog
# entries with SHA-256, store_copy: false, a get that matches nothing, a
# pattern escaping the working folder, and the corpus' catalog_on_fail.yaml.
. "$(dirname "$0")/lib.sh"

P=$FIXTURES/pipelines

sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- put / get
workdir putget
rn execute "$P/catalog.yaml" cat1
expect_rc 0 "put data/*.csv, delete locally, get them back in a later step"
LOG=.run_log_store/cat1.json
assert_eq_py "$LOG" 'statuses()' \
    '{"make": "SUCCESS", "remove": "SUCCESS", "fetch": "SUCCESS", "success": "SUCCESS"}' \
    "every step SUCCESS (fetch found the files get restored)"
expect_file .catalog/cat1/data/a.csv "put copied data/a.csv to .catalog/<run_id>/data/a.csv"
expect_file .catalog/cat1/data/b.csv "put copied data/b.csv"
expect_no_file .catalog/cat1/data/notes.txt "files not matching the pattern are not copied"
expect_file data/a.csv "get restored data/a.csv in the working folder"
cmp -s data/b.csv .catalog/cat1/data/b.csv || fail "restored file equals the catalog copy"
pass "restored file equals the catalog copy"
HA=$(sha data/a.csv)
HB=$(sha data/b.csv)
assert_eq_py "$LOG" 'step("make")["data_catalog"]' \
    "[{'name': 'data/a.csv', 'data_hash': '$HA', 'catalog_relative_path': 'cat1/data/a.csv', 'catalog_handler_location': '', 'stage': 'put'},
      {'name': 'data/b.csv', 'data_hash': '$HB', 'catalog_relative_path': 'cat1/data/b.csv', 'catalog_handler_location': '', 'stage': 'put'}]" \
    "put entries: name, sha256 (as sha256sum), <run_id>/<name>, stage put"
assert_eq_py "$LOG" 'step("fetch")["data_catalog"]' \
    "[{'name': 'data/a.csv', 'data_hash': '$HA', 'catalog_relative_path': 'data/a.csv', 'catalog_handler_location': '', 'stage': 'get'},
      {'name': 'data/b.csv', 'data_hash': '$HB', 'catalog_relative_path': 'data/b.csv', 'catalog_handler_location': '', 'stage': 'get'}]" \
    "get entries: name, sha256, <name> (runnable's inconsistency kept), stage get"
assert_eq_py "$LOG" 'list(step("make")["data_catalog"][0])' \
    '["name", "data_hash", "catalog_relative_path", "catalog_handler_location", "stage"]' \
    "catalog entry keys in runnable's order"
assert_eq_py "$LOG" 'step("remove")["data_catalog"]' '[]' "a step without catalog settings records nothing"

# ---------------------------------------------------------------- store_copy
workdir nocopy
rn execute "$P/catalog_nocopy.yaml" nc
expect_rc 0 "store_copy: false"
H=$(sha data/big.csv)
assert_eq_py .run_log_store/nc.json 'step("make")["data_catalog"]' \
    "[{'name': 'data/big.csv', 'data_hash': '$H', 'catalog_relative_path': 'nc/data/big.csv', 'catalog_handler_location': '', 'stage': 'put'}]" \
    "store_copy: false still records the entry with its hash"
expect_no_file .catalog/nc/data "store_copy: false copies nothing"

# ---------------------------------------------------------------- get miss
workdir getmiss
rn execute "$P/catalog_get_missing.yaml" gm
expect_rc 0 "get matching nothing fails the step; on_failure recovers the run"
LOG=.run_log_store/gm.json
assert_eq_py "$LOG" 'doc["status"]' '"SUCCESS"' "the run ends (SUCCESS via on_failure), never PROCESSING"
assert_eq_py "$LOG" 'statuses()' '{"fetch": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}' \
    "fetch FAILs, on_failure (recover) followed"
assert_py "$LOG" '"nothing-here/*.csv" in attempt("fetch")["message"]' \
    "the attempt's message names the pattern"
expect_no_file task-ran.txt "the task whose get failed never ran"
expect_file recovered.txt "the on_failure step ran"

# ---------------------------------------------------------------- ../x
workdir dotdot
echo "outside" >"$RN_TMP/x"
rn execute "$P/catalog_dotdot.yaml" dd
case $RC in
    2)
        pass "'../x' rejected when the pipeline is loaded (exit 2)"
        expect_err_re '^runnable: error: .*\.\./x' "the error quotes the pattern"
        expect_nothing_written "'../x' pattern"
        ;;
    1)
        pass "'../x' rejected when the step runs (exit 1)"
        assert_eq_py .run_log_store/dd.json 'statuses()' '{"escape": "FAIL", "fail": "SUCCESS"}' \
            "the step with the '../x' pattern FAILs"
        assert_py .run_log_store/dd.json '"../x" in attempt("escape")["message"]' \
            "the attempt's message quotes the pattern"
        assert_eq_py .run_log_store/dd.json 'step("escape")["data_catalog"]' '[]' "nothing recorded"
        ;;
    *) fail "'../x' pattern rejected" "expected exit 2 (load time) or 1 (step FAIL), got $RC" ;;
esac
copied=$(find . -name x 2>/dev/null)
[ -z "$copied" ] || fail "nothing was copied through '../x'" "found: $copied"
pass "nothing was copied through '../x'"

# ---------------------------------------------------------------- corpus
if [ -f "$CORPUS/04-catalog/catalog_on_fail.yaml" ]; then
    workdir catalog_on_fail
    rn execute "$CORPUS/04-catalog/catalog_on_fail.yaml" cof
    expect_rc 0 "04-catalog/catalog_on_fail.yaml succeeds"
    LOG=.run_log_store/cof.json
    assert_eq_py "$LOG" 'doc["status"]' '"SUCCESS"' "catalog_on_fail: run SUCCESS"
    assert_eq_py "$LOG" 'statuses()' \
        '{"fail_immediately": "FAIL", "success node": "SUCCESS", "success": "SUCCESS"}' \
        "catalog_on_fail: fail_immediately FAIL, 'success node', success"
    expect_file .catalog/cof/df.csv "catalog_on_fail: df.csv put although the step failed"
    expect_no_file .catalog/cof/data_folder "catalog_on_fail: data_folder/data.txt absent without error"
    expect_file df.csv "catalog_on_fail: df.csv left in the working folder"
    assert_eq_py "$LOG" '[(e["name"], e["stage"], e["catalog_relative_path"]) for e in step("fail_immediately")["data_catalog"]]' \
        '[["df.csv", "put", "cof/df.csv"]]' "catalog_on_fail: one put entry, for df.csv"
else
    echo "# shared corpus not found: catalog_on_fail.yaml not run"
fi

done_testing
