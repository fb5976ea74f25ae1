#!/bin/bash
# command_type python with the real /usr/bin/python3 (docs/python-tasks.md):
# binding and casting, every return kind, objects across steps and map
# iterations, failures, captured output, secrets, pydantic present and
# absent, the interpreter setting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/py_lib.sh"

py_fixture() {
    py_workdir "$1"
    cp "$PYFIX"/pytasks.py "$PYFIX"/*.yaml .
}

# ---------------------------------------------------------------- binding, returns
py_fixture main
MY_SECRET='s3cr3t-value' rn execute python.yaml main -p types.params.yaml
expect_rc 0 "python.yaml runs"
LOG=.run_log_store/main.json
assert_eq_py "$LOG" 'statuses()' \
    '{"types": "SUCCESS", "kw": "SUCCESS", "defaults": "SUCCESS", "produce": "SUCCESS", "consume": "SUCCESS", "shell": "SUCCESS", "chatty": "SUCCESS", "secret": "SUCCESS", "success": "SUCCESS"}' \
    "every step succeeded"
assert_eq_py "$LOG" 'doc["parameters"]["seen"]["value"]' \
    '{"i": [7, "int"], "f": [2.0, "float"], "s": ["5", "str"], "b": [False, "bool"], "l": [[1, "two"], "list"], "d": [{"k": 1.5}, "dict"], "g": [[3, 4], "list"], "plain": [{"kept": True}, "dict"]}' \
    "arguments cast by annotation: int, float, str, bool, list, dict, List[int]; unannotated kept"
assert_eq_py "$LOG" 'doc["parameters"]["rest"]["value"]' '["b", "d", "f", "g", "l", "plain", "s", "seen"]' \
    "**kwargs receives every parameter not bound by name"
assert_eq_py "$LOG" 'doc["parameters"]["absent"]["value"]' '5' "an absent argument takes its default"
assert_eq_py "$LOG" 'attempt("produce")["output_parameters"]' \
    '{"res": {"kind": "json", "value": {"a": [1, 2]}, "description": attempt("produce")["output_parameters"]["res"]["description"]}, "m": {"kind": "metric", "value": 0.5, "description": 0.5}, "obj": {"kind": "object", "value": "obj", "description": "Pickled object stored in catalog as: obj"}}' \
    "returns by position: json, metric, object (recorded by name)"
assert_eq_py "$LOG" 'values(attempt("produce")["user_defined_metrics"])' '{"m": 0.5}' \
    "the metric is also in user_defined_metrics"
expect_file .catalog/main/obj.dill "the object is pickled into the run's catalog as obj.dill"
"$PY" -c 'import pickle, sys; sys.path.insert(0, "."); b = pickle.load(open(".catalog/main/obj.dill", "rb")); assert b.content == "inside the box"' ||
    fail "obj.dill unpickles to the returned object"
pass "obj.dill unpickles to the returned object"
assert_eq_py "$LOG" 'doc["parameters"]["consumed"]["value"]' "'consumed inside the box'" \
    "the next python task received the unpickled object"
pass "a shell task does not see the object (its test passed)"
log=$(ls .catalog/main/chatty*.execution.log)
for line in "to stdout" "to stderr" "warned through logging"; do
    grep -q -F "$line" "$log" || fail "chatty: '$line' in the execution log" "$(cat "$log")"
done
pass "stdout, stderr and logging output in the execution log"
assert_eq_py "$LOG" 'doc["parameters"]["digest"]["value"]' \
    "hashlib.sha256(b's3cr3t-value').hexdigest()" "the secret was in the function's environment"
if grep -r -q -F 's3cr3t-value' .run_log_store .catalog; then
    fail "the secret's value is in no run log or catalog file"
fi
pass "the secret's value is in no run log or catalog file"
assert_py "$LOG" '"MY_SECRET" not in doc["parameters"] and "MY_SECRET" not in attempt("secret")["input_parameters"]' \
    "the secret is not a parameter"

# ---------------------------------------------------------------- failures
py_fixture failures
rn execute failures.yaml fails -p types.params.yaml
expect_rc 1 "failures.yaml ends FAIL"
LOG=.run_log_store/fails.json
assert_eq_py "$LOG" 'statuses()' \
    '{"needs": "FAIL", "two": "FAIL", "not_json": "FAIL", "boom": "FAIL", "nomodule": "FAIL", "fail": "SUCCESS"}' \
    "each failure fails its step and on_failure is followed"
assert_py "$LOG" '"required argument \x27missing_one\x27" in attempt("needs")["message"]' \
    "a missing argument is named in the message"
assert_py "$LOG" 're.search(r"returned 2 values but the task declares 1 return \(only\)", attempt("two")["message"])' \
    "a returns count mismatch says so"
assert_py "$LOG" '"not JSON serialisable" in attempt("not_json")["message"] and "kind: object" in attempt("not_json")["message"]' \
    "a json return that is not JSON says so and suggests kind: object"
assert_eq_py "$LOG" 'attempt("boom")["message"]' "'ValueError: bad value 42'" \
    "an exception's last line is the attempt's message"
log=$(ls .catalog/fails/boom*.execution.log)
grep -q '^Traceback (most recent call last):' "$log" && grep -q 'in boom' "$log" &&
    grep -q -x 'ValueError: bad value 42' "$log" && grep -q -x 'about to fail' "$log" ||
    fail "the traceback and the output are in the execution log" "$(cat "$log")"
pass "the traceback and the output are in the execution log"
assert_eq_py "$LOG" 'attempt("nomodule")["message"]' "\"ModuleNotFoundError: No module named 'no_such_module'\"" \
    "an unknown module fails the step, saying which"

# ---------------------------------------------------------------- map objects
py_fixture map
printf 'items: [1, 2, 3]\n' >items.yaml
rn execute map_objects.yaml mapobj -p items.yaml
expect_rc 0 "map_objects.yaml runs"
LOG=.run_log_store/mapobj.json
for i in 1 2 3; do
    expect_file ".catalog/mapobj/obj_map_state.$i.dill" "iteration $i stores its object under its own name"
    assert_eq_py "$LOG" "attempt('map_state.$i.make')['output_parameters']['obj']['value']" "'obj_map_state.$i'" \
        "iteration $i records the object's stored name"
done
assert_eq_py "$LOG" 'doc["parameters"]["got"]["value"]' '[100, 200, 300]' \
    "each iteration read back its own object"

# ---------------------------------------------------------------- pydantic
if "$PY" -c 'import pydantic' 2>/dev/null; then
    py_fixture pyd
    printf 'p: {x: 3, y: 4}\n' >p.yaml
    rn execute pydantic.yaml pyd -p p.yaml
    expect_rc 0 "pydantic.yaml runs with pydantic installed"
    LOG=.run_log_store/pyd.json
    assert_eq_py "$LOG" 'values(doc["parameters"])["have"]' 'True' "pydantic is importable"
    assert_eq_py "$LOG" 'values(doc["parameters"])["total"]' '7' "a mapping is cast to the pydantic model"
    assert_eq_py "$LOG" 'values(doc["parameters"])["point"]' '{"x": 1, "y": 2}' \
        "a returned model is stored as its JSON dump"
else
    echo "# pydantic is not installed for $PY: the pydantic-present checks did not run"
fi
# Absent: the same interpreter with a pydantic that cannot be imported put
# first on its path.  The driver never needs pydantic.
py_fixture nopyd
printf 'p: {x: 3, y: 4}\n' >p.yaml
PYTHONPATH=$PYFIX/hidden rn execute pydantic.yaml nopyd -p p.yaml
expect_rc 1 "pydantic.yaml without pydantic fails at the model step"
LOG=.run_log_store/nopyd.json
assert_eq_py "$LOG" 'values(doc["parameters"])["have"]' 'False' "pydantic is hidden from the task"
assert_eq_py "$LOG" 'statuses()["model_in"]' "'FAIL'" \
    "an argument annotated with a model that cannot exist fails its step"
PYTHONPATH=$PYFIX/hidden rn execute python.yaml nopydmain -p types.params.yaml
# (secret step fails: MY_SECRET is not set here; everything before it runs)
LOG=.run_log_store/nopydmain.json
assert_eq_py "$LOG" '{k: v for k, v in statuses().items() if k not in ("secret", "fail")}' \
    '{"types": "SUCCESS", "kw": "SUCCESS", "defaults": "SUCCESS", "produce": "SUCCESS", "consume": "SUCCESS", "shell": "SUCCESS", "chatty": "SUCCESS"}' \
    "binding, casting and every return kind work without pydantic"

# ---------------------------------------------------------------- interpreter
py_fixture interp
RUNNABLE_PYTHON=/nonexistent/python3 rn execute python.yaml badpy -p types.params.yaml
expect_rc 1 "a missing interpreter fails the run"
LOG=.run_log_store/badpy.json
assert_py "$LOG" '"/nonexistent/python3" in attempt("types")["message"]' \
    "the failed step names the interpreter it could not start"
# A wrapper as the configured interpreter: it is what runs the task.
cat >mypy <<'SH'
#!/bin/sh
echo "wrapper ran" >&2
exec /usr/bin/python3 "$@"
SH
chmod +x mypy
RUNNABLE_PYTHON=$PWD/mypy rn execute python.yaml wrapped -p types.params.yaml
LOG=.run_log_store/wrapped.json
assert_eq_py "$LOG" 'statuses()["types"]' "'SUCCESS'" "RUNNABLE_PYTHON names the interpreter"
grep -q -x 'wrapper ran' .catalog/wrapped/types*.execution.log ||
    fail "the configured interpreter ran the task"
pass "the configured interpreter ran the task"

# The configuration's `python` setting: on the task type, or on the
# executor for python and notebook tasks alike; it wins over
# RUNNABLE_PYTHON (which names a missing interpreter here).
sed 's/wrapper ran/task wrapper ran/' mypy >taskpy && chmod +x taskpy
sed 's/wrapper ran/executor wrapper ran/' mypy >execpy && chmod +x execpy
printf 'tasks:\n  python:\n    config:\n      python: ./taskpy\n' >task-python.yaml
printf 'pipeline-executor:\n  type: local\n  config:\n    python: ./execpy\n' >exec-python.yaml
cat exec-python.yaml task-python.yaml >both-python.yaml
for c in task:task-python exec:exec-python both:both-python; do
    id=${c%%:*} conf=${c#*:}
    RUNNABLE_PYTHON=/nonexistent/python3 rn execute python.yaml "cfg$id" -p types.params.yaml -c "$conf.yaml"
    assert_eq_py ".run_log_store/cfg$id.json" 'statuses()["types"]' "'SUCCESS'" \
        "$conf.yaml: the configured interpreter is used, not RUNNABLE_PYTHON"
done
grep -q -x 'task wrapper ran' .catalog/cfgtask/types*.execution.log ||
    fail "tasks.python.config.python ran the task"
grep -q -x 'executor wrapper ran' .catalog/cfgexec/types*.execution.log ||
    fail "the executor's python setting ran the task"
grep -q -x 'task wrapper ran' .catalog/cfgboth/types*.execution.log ||
    fail "the task type's setting wins over the executor's"
pass "tasks.python.config.python, then the executor's python, choose the interpreter"
printf 'tasks:\n  python:\n    config:\n      pyhton: ./taskpy\n' >typo.yaml
rn validate python.yaml -c typo.yaml
expect_rc 2 "a misspelt task setting is refused"
expect_err_re "typo.yaml:4:7: .*no setting 'pyhton'.*python" "the error points at the setting and lists 'python'"
printf 'tasks:\n  pyton:\n    config: {}\n' >notype.yaml
rn validate python.yaml -c notype.yaml
expect_rc 2 "settings for a task type that is not installed are refused"
expect_err_re "notype.yaml:2:3: .*pyton" "the error names the file position and the type"

# ---------------------------------------------------------------- validation
py_fixture validate
rn validate nodot.yaml
expect_rc 2 "a command that is not a dotted path is refused"
expect_err_re "nodot.yaml:[0-9]+:[0-9]+: .*'echo hello' is not a dotted path" \
    "the error names the file position and the command"

done_testing
