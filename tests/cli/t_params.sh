#!/bin/bash
# Initial parameters (-p file and RUNNABLE_PRM_*), their renderings in a
# shell task's environment, returns of kind json and metric.
. "$(dirname "$0")/lib.sh"

PARAMS=$CORPUS/common/initial_parameters.yaml
if [ ! -f "$PARAMS" ]; then
    PARAMS=$FIXTURES/params/initial_parameters.yaml
fi
P=$FIXTURES/pipelines/params.yaml

workdir params
RUNNABLE_PRM_envvar="from env" RUNNABLE_PRM_Mode=fast rn execute "$P" prm -p "$PARAMS"
expect_rc 0 "shell task sees the exact renderings of file and env parameters"
LOG=.run_log_store/prm.json
assert_eq_py "$LOG" 'statuses()' \
    '{"check renderings": "SUCCESS", "produce": "SUCCESS", "consume": "SUCCESS", "success": "SUCCESS"}' \
    "every step SUCCESS"

ROOT_IN='{"integer": 1, "floater": 3.14, "stringer": "hello", "pydantic_param": {"x": 10, "foo": "bar"}, "chunks": [1, 2, 3], "envvar": "from env", "mode": "fast"}'
assert_eq_py "$LOG" 'values(attempt("check renderings")["input_parameters"])' "$ROOT_IN" \
    "input_parameters list every root parameter (RUNNABLE_PRM_Mode -> mode)"
assert_eq_py "$LOG" 'sorted(set(p["kind"] for p in attempt("check renderings")["input_parameters"].values()))' \
    '["json"]' "initial parameters have kind json"
assert_eq_py "$LOG" 'list(attempt("check renderings")["input_parameters"]["pydantic_param"]["value"])' \
    '["x", "foo"]' "mapping key order kept from the file"
assert_eq_py "$LOG" 'attempt("check renderings")["input_parameters"]["floater"]' \
    '{"kind": "json", "value": 3.14, "description": 3.14}' "floats stay floats (3.14)"
assert_eq_py "$LOG" 'attempt("check renderings")["input_parameters"]["integer"]' \
    '{"kind": "json", "value": 1, "description": 1}' "integers stay integers (1, not 1.0)"
assert_eq_py "$LOG" 'values(attempt("produce")["input_parameters"])' "$ROOT_IN" \
    "the next step sees the same root parameters"

assert_eq_py "$LOG" 'attempt("produce")["output_parameters"]' \
    '{"score": {"kind": "metric", "value": 0.9, "description": 0.9},
      "rows": {"kind": "json", "value": 21, "description": 21},
      "label": {"kind": "json", "value": "ten chars plus", "description": "ten chars ..."}}' \
    "output_parameters: every return in declaration order, with kinds"
assert_eq_py "$LOG" 'list(attempt("produce")["output_parameters"])' '["score", "rows", "label"]' \
    "output_parameters in declaration order"
assert_eq_py "$LOG" 'attempt("produce")["user_defined_metrics"]' \
    '{"score": {"kind": "metric", "value": 0.9, "description": 0.9}}' \
    "user_defined_metrics holds exactly the metric return"
assert_eq_py "$LOG" 'attempt("check renderings")["user_defined_metrics"]' '{}' \
    "no metrics on a step without returns"
assert_eq_py "$LOG" 'doc["parameters"]["score"]["kind"]' '"metric"' "the metric keeps its kind in the root scope"
assert_eq_py "$LOG" 'values(doc["parameters"])' \
    "dict($ROOT_IN, score=0.9, rows=21, label='ten chars plus')" \
    "root parameters: initial ones plus the returns"
assert_eq_py "$LOG" 'values(attempt("consume")["input_parameters"])' \
    "dict($ROOT_IN, score=0.9, rows=21, label='ten chars plus')" \
    "a later step sees the returns"

# Without the env parameters the comparison in the first step fails.
workdir params_missing
rn execute "$P" noenv -p "$PARAMS"
expect_rc 1 "without RUNNABLE_PRM_* the shell comparison fails"
assert_eq_py .run_log_store/noenv.json 'statuses()' '{"check renderings": "FAIL", "fail": "SUCCESS"}' \
    "the comparing step FAILs"
assert_eq_py .run_log_store/noenv.json 'values(doc["parameters"])' \
    '{"integer": 1, "floater": 3.14, "stringer": "hello", "pydantic_param": {"x": 10, "foo": "bar"}, "chunks": [1, 2, 3]}' \
    "root parameters are exactly the file's"

# RUNNABLE_PARAMETERS_FILE wins over -p; RUNNABLE_PRM_* wins over the file
# and is JSON-decoded with a raw-string fallback.
workdir params_env
printf 'integer: 99\nonly_in_other: true\n' >other.yaml
RUNNABLE_PARAMETERS_FILE=$PARAMS RUNNABLE_PRM_floater=2.5 RUNNABLE_PRM_flags='[1, 2]' \
    RUNNABLE_PRM_label='"42"' RUNNABLE_PRM_raw='not json' \
    rn execute "$FIXTURES/pipelines/stub.yaml" envp -p other.yaml
expect_rc 0 "RUNNABLE_PARAMETERS_FILE and RUNNABLE_PRM_* accepted"
assert_eq_py .run_log_store/envp.json 'values(doc["parameters"])' \
    '{"integer": 1, "floater": 2.5, "stringer": "hello", "pydantic_param": {"x": 10, "foo": "bar"}, "chunks": [1, 2, 3], "flags": [1, 2], "label": "42", "raw": "not json"}' \
    "RUNNABLE_PARAMETERS_FILE beats -p; RUNNABLE_PRM_* beat the file, JSON-decoded"

done_testing
