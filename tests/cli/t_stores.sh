#!/bin/bash
# The same small pipelines with every run-log store (buffered, file-system,
# chunked-fs) and every catalog (do-nothing, file-system).
. "$(dirname "$0")/lib.sh"

P=$FIXTURES/pipelines

for store in buffered file-system chunked-fs; do
    for catalog in do-nothing file-system; do
        what="$store + $catalog"
        workdir "$store-$catalog"
        cat >config.yaml <<EOF
run-log-store:
  type: $store
catalog:
  type: $catalog
EOF
        rn validate "$P/small.yaml" -c config.yaml
        expect_rc 0 "$what: config accepted by validate"

        rn execute "$P/small.yaml" ok -c config.yaml
        expect_rc 0 "$what: succeeding pipeline exits 0"
        expect_out_re '^run ok: SUCCESS +\(3 steps, 0 failed' "$what: summary SUCCESS, 3 steps, 0 failed"
        rn execute "$P/fail.yaml" bad -c config.yaml
        expect_rc 1 "$what: failing pipeline exits 1"
        expect_out_re '^run bad: FAIL +\(2 steps, 1 failed' "$what: summary FAIL, 2 steps, 1 failed"

        case $store in
            buffered)
                expect_no_file .run_log_store "$what: buffered store writes nothing to disk"
                ;;
            file-system)
                expect_file .run_log_store/ok.json "$what: .run_log_store/<run_id>.json"
                # The run-history index (.summaries/, docs/runs.md) and the
                # writers' lock file (.lock, docs/run-log-layout.md) sit beside
                # the run logs; runnable reads only <run_id>.json.
                [ "$(ls -A .run_log_store | sort | tr '\n' ' ')" = ".lock .summaries bad.json ok.json " ] ||
                    fail "$what: one file per run, plus the history index and the lock" "found: $(ls -A .run_log_store | tr '\n' ' ')"
                pass "$what: one file per run, plus the history index and the lock"
                [ "$(ls -A .run_log_store/.summaries | sort | tr '\n' ' ')" = "bad.json ok.json " ] ||
                    fail "$what: one summary per run" "found: $(ls -A .run_log_store/.summaries | tr '\n' ' ')"
                pass "$what: one summary per run"
                assert_eq_py .run_log_store/ok.json \
                    '(doc["status"], statuses(), doc["run_config"]["run_log_store"]["supports_parallel_writes"])' \
                    '["SUCCESS", {"produce": "SUCCESS", "consume": "SUCCESS", "success": "SUCCESS"}, False]' \
                    "$what: run log complete, supports_parallel_writes false"
                assert_eq_py .run_log_store/bad.json '(doc["status"], statuses())' \
                    '["FAIL", {"boom": "FAIL", "fail": "SUCCESS"}]' "$what: failed run recorded"
                ;;
            chunked-fs)
                expect_file .run_log_store/ok/RunLog.json "$what: .run_log_store/<run_id>/RunLog.json"
                expect_no_file .run_log_store/ok.json "$what: no single-file run log"
                assert_eq_py .run_log_store/ok/RunLog.json \
                    '(doc["run_id"], doc["status"], statuses(), values(doc["parameters"]))' \
                    '["ok", "SUCCESS", {"produce": "SUCCESS", "consume": "SUCCESS", "success": "SUCCESS"}, {"n": 5}]' \
                    "$what: RunLog.json holds status, root steps and parameters"
                assert_eq_py .run_log_store/ok/RunLog.json 'sorted(doc)' \
                    'sorted(["run_id", "dag_hash", "tag", "status", "steps", "job", "parameters", "run_config"])' \
                    "$what: RunLog.json has the RunLog keys"
                assert_eq_py .run_log_store/ok/RunLog.json \
                    'doc["run_config"]["run_log_store"]' \
                    '{"service_name": "chunked-fs", "service_type": "run_log_store", "supports_parallel_writes": True}' \
                    "$what: run_config records chunked-fs, supports_parallel_writes true"
                assert_eq_py .run_log_store/bad/RunLog.json '(doc["status"], statuses())' \
                    '["FAIL", {"boom": "FAIL", "fail": "SUCCESS"}]' "$what: failed run recorded"
                n=$(find .run_log_store/ok -name 'BranchLog-*' | wc -l)
                [ "$n" -eq 0 ] || fail "$what: no branch files without composites" "found $n"
                pass "$what: no branch files without composites"
                ;;
        esac

        case $catalog in
            do-nothing)
                expect_no_file .catalog "$what: do-nothing catalog writes nothing"
                ;;
            file-system)
                expect_file .catalog/ok/out.txt "$what: put file in .catalog/<run_id>/"
                # fail.yaml's boom prints to stderr: its log is kept
                n=$(find .catalog/bad -name 'boom*.execution.log' | wc -l)
                [ "$n" -eq 1 ] || fail "$what: the failing task's output is kept" "found $n"
                pass "$what: the failing task's output is kept"
                ;;
        esac
        if [ "$store" != buffered ]; then
            log=.run_log_store/ok.json
            [ "$store" = chunked-fs ] && log=.run_log_store/ok/RunLog.json
            assert_eq_py "$log" 'doc["run_config"]["catalog"]["service_name"]' "'$catalog'" \
                "$what: run_config records the catalog"
            if [ "$catalog" = file-system ]; then
                H=$(sha256sum out.txt | cut -d' ' -f1)
                assert_eq_py "$log" '[(e["name"], e["data_hash"], e["stage"]) for e in step("produce")["data_catalog"]]' \
                    "[['out.txt', '$H', 'put']]" "$what: the put is recorded on the step"
            else
                assert_eq_py "$log" 'step("produce")["data_catalog"]' '[]' \
                    "$what: do-nothing records no catalog entries"
            fi
        fi
        expect_file out.txt "$what: the task's file stays in the working folder"
    done
done

# An existing run is refused by the persistent stores, whatever the layout.
for store in file-system chunked-fs; do
    workdir "twice-$store"
    printf 'run-log-store:\n  type: %s\n' "$store" >config.yaml
    rn execute "$P/stub.yaml" same -c config.yaml
    expect_rc 0 "$store: first run"
    rn execute "$P/stub.yaml" same -c config.yaml
    expect_rc 2 "$store: the same run id again is refused"
done

# Store settings: log_folder.
workdir log_folder
printf 'run-log-store:\n  type: file-system\n  config:\n    log_folder: logs/here\n' >config.yaml
rn execute "$P/stub.yaml" lf -c config.yaml
expect_rc 0 "file-system store with log_folder"
expect_file logs/here/lf.json "log_folder honoured"
expect_no_file .run_log_store "nothing in the default folder"

done_testing
