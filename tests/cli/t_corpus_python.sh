#!/bin/bash
# The corpus pipelines with python and notebook tasks (shared/runnable-examples,
# README there) run with the outcomes the README states, against our own
# module examples.common.functions and notebooks (tests/fixtures/python).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/py_lib.sh"
require_corpus
require_notebook

# run_py REL ID RC STATUS STEPS [runnable options...]: run a corpus file in
# a fresh work folder; LOG is its run log.
run_py() {
    local rel=$1 id=$2 erc=$3 status=$4 esteps=$5
    shift 5
    py_workdir "run-$id"
    cp "$CORPUS/common/initial_parameters.yaml" examples/common/
    rn execute "$CORPUS/$rel" "$id" "$@"
    expect_rc "$erc" "run $rel"
    LOG=.run_log_store/$id.json
    assert_eq_py "$LOG" 'doc["status"]' "'$status'" "$rel: run status $status"
    assert_eq_py "$LOG" 'statuses()' "$esteps" "$rel: exactly the expected steps and statuses"
    settled "$LOG" "$rel"
}
IP=(-p examples/common/initial_parameters.yaml)

run_py 01-tasks/python_tasks.yaml pt 0 SUCCESS '{"hello": "SUCCESS", "success": "SUCCESS"}'
grep -q -x 'Hello World!' .catalog/pt/hello*.execution.log ||
    fail "python_tasks: stdout in the execution log"
grep -q 'I am logging it' .catalog/pt/hello*.execution.log ||
    fail "python_tasks: the logging warning in the execution log"
pass "01-tasks/python_tasks.yaml: stdout and logging in the execution log"

run_py 01-tasks/notebook.yaml nb 0 SUCCESS '{"hello": "SUCCESS", "success": "SUCCESS"}'
expect_file examples/common/simple_notebook-hello_out.ipynb "notebook.yaml: executed notebook next to the source"
expect_file .catalog/nb/examples/common/simple_notebook-hello_out.ipynb "notebook.yaml: executed notebook in the catalog"
grep -q 'Hello World!' .catalog/nb/examples/common/simple_notebook-hello_out.ipynb ||
    fail "notebook.yaml: the executed notebook holds the cell's output"
pass "notebook.yaml: the executed notebook holds the cell's output"

run_py 02-sequential/traversal.yaml trav 0 SUCCESS \
    '{"hello stub": "SUCCESS", "hello python": "SUCCESS", "hello shell": "SUCCESS", "hello notebook": "SUCCESS", "success": "SUCCESS"}'

run_py 02-sequential/default_fail.yaml dfail 1 FAIL \
    '{"step 1": "SUCCESS", "step 2": "FAIL", "fail": "SUCCESS"}'
assert_eq_py "$LOG" 'attempt("step 2")["message"]' "'Exception: This is an exception'" \
    "default_fail: the exception's last line is the attempt's message"

run_py 03-parameters/passing_parameters_python.yaml ppp 0 SUCCESS \
    '{"set_parameter": "SUCCESS", "get_parameters": "SUCCESS", "success": "SUCCESS"}'
assert_eq_py "$LOG" 'values(attempt("set_parameter")["output_parameters"])' \
    '{"df": "df", "integer": 1, "floater": 3.14, "stringer": "hello", "pydantic_param": {"x": 10, "foo": "bar"}, "score": 0.9}' \
    "passing_parameters_python: outputs (df recorded by name)"
assert_eq_py "$LOG" 'attempt("set_parameter")["output_parameters"]["df"]["kind"]' "'object'" \
    "passing_parameters_python: df is an object"
assert_eq_py "$LOG" 'values(attempt("set_parameter")["user_defined_metrics"])' '{"score": 0.9}' \
    "passing_parameters_python: score is a metric"
expect_file .catalog/ppp/df.dill "passing_parameters_python: df pickled into the catalog"

run_py 03-parameters/passing_parameters_notebook.yaml ppn 0 SUCCESS \
    '{"set_parameter": "SUCCESS", "get_parameters": "SUCCESS", "read_parameters_in_notebook": "SUCCESS", "success": "SUCCESS"}'
expect_file .catalog/ppn/df.dill "passing_parameters_notebook: the notebook's df pickled into the catalog"

RUNNABLE_PRM_envvar="from env" run_py 03-parameters/passing_parameters_shell.yaml pps 0 SUCCESS \
    '{"write_parameter": "SUCCESS", "read_parameters": "SUCCESS", "read_parameters_in_shell": "SUCCESS", "success": "SUCCESS"}'
assert_eq_py "$LOG" 'values(attempt("read_parameters")["input_parameters"])["envvar"]' "'from env'" \
    "passing_parameters_shell: envvar among the inputs"

RUNNABLE_PRM_envvar="from env" run_py 03-parameters/static_parameters_python.yaml spp 0 SUCCESS \
    '{"read_params_as_pydantic": "SUCCESS", "read_params_as_json": "SUCCESS", "success": "SUCCESS"}' "${IP[@]}"
RUNNABLE_PRM_envvar="from env" run_py 03-parameters/static_parameters_non_python.yaml spn 0 SUCCESS \
    '{"read_params_in_notebook": "SUCCESS", "read_params_in_shell": "SUCCESS", "success": "SUCCESS"}' "${IP[@]}"
run_py 03-parameters/static_parameters_fail.yaml spf 0 SUCCESS \
    '{"read_params_and_fail": "FAIL", "read_params_in_notebook": "SUCCESS", "success": "SUCCESS"}' "${IP[@]}"

run_py 04-catalog/catalog_python.yaml catp 0 SUCCESS \
    '{"generate_data_python": "SUCCESS", "delete_files_after_generate": "SUCCESS", "read_data_python": "SUCCESS", "success": "SUCCESS"}'
expect_file .catalog/catp/df.csv "catalog_python: df.csv in the catalog"
expect_file .catalog/catp/data_folder/data.txt "catalog_python: data_folder/data.txt in the catalog"

BR5='{"hello stub": "SUCCESS", "hello python": "SUCCESS", "hello shell": "SUCCESS", "hello notebook": "SUCCESS", "success": "SUCCESS"}'
run_py 06-parallel/parallel.yaml par 0 SUCCESS \
    '{"parallel_step": "SUCCESS", "continue_to": "SUCCESS", "success": "SUCCESS"}'
for b in branch1 branch2; do
    assert_eq_py "$LOG" "{k.rsplit('.', 1)[1]: v for k, v in statuses(step('parallel_step')['branches']['parallel_step.$b']['steps']).items()}" \
        "$BR5" "parallel.yaml: branch $b has its 5 steps"
done

run_py 06-parallel/nesting.yaml nest 0 SUCCESS '{"parallel_step": "SUCCESS", "success": "SUCCESS"}'
assert_eq_py "$LOG" 'step("parallel_step.branch2.parallel_step.branch1.hello notebook")["status"]' "'SUCCESS'" \
    "nesting.yaml: a notebook two levels down ran"

run_py 06-parallel/parallel_branch_fail.yaml pbf 1 FAIL '{"parallel_step": "FAIL", "fail": "SUCCESS"}'
assert_eq_py "$LOG" '{k: v["status"] for k, v in step("parallel_step")["branches"].items()}' \
    '{"parallel_step.branch1": "SUCCESS", "parallel_step.branch2": "FAIL"}' \
    "parallel_branch_fail: branch1 SUCCESS, branch2 FAIL"

MAP5='{"execute_python": "SUCCESS", "execute_notebook": "SUCCESS", "execute_shell": "SUCCESS", "read_chunk": "SUCCESS", "success": "SUCCESS"}'
run_py 07-map/map.yaml map 0 SUCCESS '{"map_state": "SUCCESS", "collect": "SUCCESS", "success": "SUCCESS"}' "${IP[@]}"
for i in 1 2 3; do
    assert_eq_py "$LOG" "{k.rsplit('.', 1)[1]: v for k, v in statuses(step('map_state')['branches']['map_state.$i']['steps']).items()}" \
        "$MAP5" "map.yaml: iteration $i has its 5 steps"
done
assert_eq_py "$LOG" '{k: doc["parameters"][k]["value"] for k in ("processed_python", "processed_notebook", "processed_shell")}' \
    '{"processed_python": [10, 20, 30], "processed_notebook": [100, 200, 300], "processed_shell": [1000, 2000, 3000]}' \
    "map.yaml: the default reducer's lists"
expect_file examples/common/process_chunk-chunk1executenotebook_out.ipynb \
    "map.yaml: each iteration's notebook named with its map variable"

run_py 07-map/custom_reducer.yaml cred 0 SUCCESS '{"map_state": "SUCCESS", "collect": "SUCCESS", "success": "SUCCESS"}' "${IP[@]}"
assert_eq_py "$LOG" '{k: doc["parameters"][k]["value"] for k in ("processed_python", "processed_notebook", "processed_shell")}' \
    '{"processed_python": 30, "processed_notebook": 300, "processed_shell": 3000}' "custom_reducer.yaml: max"

run_py 07-map/map_fail.yaml mapf 1 FAIL '{"map_state": "FAIL", "fail": "SUCCESS"}' "${IP[@]}"
assert_eq_py "$LOG" "{k: (v['status'], len(v['steps'])) for k, v in step('map_state')['branches'].items()}" \
    '{"map_state.1": ["FAIL", 2], "map_state.2": ["SUCCESS", 5], "map_state.3": ["SUCCESS", 5]}' \
    "map_fail.yaml: iteration 1 FAIL with 2 steps, 2 and 3 SUCCESS with 5"
assert_py "$LOG" '"processed_python" not in doc["parameters"]' "map_fail.yaml: no reduction"

done_testing
