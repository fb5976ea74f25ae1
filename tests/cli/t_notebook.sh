#!/bin/bash
# command_type notebook with the real /usr/bin/python3, nbclient and
# ipykernel (docs/python-tasks.md): parameters injected over a `parameters`
# cell, returns of every kind read from the notebook's namespace, objects
# not injected, the executed notebook next to its source and in the
# catalog, failures.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/py_lib.sh"
require_notebook

nb_fixture() {
    workdir "$1"
    mkdir notebooks
    cp "$PYFIX"/notebooks/*.ipynb notebooks/
    cp "$PYFIX"/notebook.yaml "$PYFIX"/notebook_map.yaml "$PYFIX"/nbcheck.py .
}

nb_fixture main
printf 'n: 21\nlabel: hello\n' >p.yaml
NB_SECRET=nb-secret-value rn execute notebook.yaml nb -p p.yaml
expect_rc 1 "notebook.yaml ends FAIL (its last two steps fail on purpose)"
LOG=.run_log_store/nb.json
assert_eq_py "$LOG" 'statuses()' \
    '{"calc": "SUCCESS", "use_pair": "SUCCESS", "again": "SUCCESS", "missing": "FAIL", "raising": "FAIL", "fail": "SUCCESS"}' \
    "steps and statuses"
assert_eq_py "$LOG" 'values(attempt("calc")["output_parameters"])' \
    '{"doubled": 42, "shout": "HELLO", "ratio": 5.25, "pair": "pair", "secret_seen": hashlib.sha256(b"nb-secret-value").hexdigest()[:12], "obj_injected": False}' \
    "returns read from the namespace: parameters injected over the defaults, secret in the environment, json, metric, object"
assert_eq_py "$LOG" 'values(attempt("calc")["user_defined_metrics"])' '{"ratio": 5.25}' \
    "the metric is in user_defined_metrics"
expect_file .catalog/nb/pair.dill "the notebook's object is pickled into the catalog"
assert_eq_py "$LOG" 'values(doc["parameters"])["pair_total"]' '5' \
    "a python task received the notebook's object"
assert_eq_py "$LOG" 'values(attempt("again")["output_parameters"])' '{"obj_injected": False}' \
    "object parameters are not injected into notebooks"
expect_file notebooks/calc-calc_out.ipynb "the executed notebook is saved next to its source as <stem>-<step>_out.ipynb"
expect_file .catalog/nb/notebooks/calc-calc_out.ipynb "the executed notebook is in the catalog"
"$PY" - <<'PYEOF' || fail "the executed notebook has the injected cell after the parameters cell, and outputs"
import json
nb = json.load(open("notebooks/calc-calc_out.ipynb"))
cells = nb["cells"]
assert "parameters" in cells[1]["metadata"]["tags"], cells[1]
assert cells[2]["metadata"]["tags"] == ["injected-parameters"], cells[2]
src = "".join(cells[2]["source"])
assert "n = 21" in src and "label = 'hello'" in src, src
out = json.dumps(cells[3]["outputs"])
assert "calc ran with 21 hello" in out, out
assert "nb-secret-value" not in json.dumps(nb)
PYEOF
pass "the executed notebook has the injected cell after the parameters cell, and outputs"
assert_py "$LOG" '"not_defined_anywhere" in attempt("missing")["message"] and "no variable" in attempt("missing")["message"]' \
    "a return the notebook does not define fails the step, naming it"
assert_eq_py "$LOG" 'attempt("raising")["message"]' "'RuntimeError: notebook broke'" \
    "a notebook error's last line is the attempt's message"
log=$(ls .catalog/nb/raising*.execution.log)
grep -q 'RuntimeError' "$log" || fail "the notebook's traceback is in the execution log" "$(cat "$log")"
pass "the notebook's traceback is in the execution log"
expect_file notebooks/raise-raising_out.ipynb "a failed notebook is still saved (it shows where it stopped)"
"$PY" -c 'import json; nb = json.load(open("notebooks/raise-raising_out.ipynb")); assert "before the error" in json.dumps(nb["cells"][1]["outputs"]); assert not nb["cells"][3]["outputs"]' ||
    fail "the saved failed notebook has the outputs up to the error"
pass "the saved failed notebook has the outputs up to the error"

nb_fixture map
printf 'items: [1, 2]\nlabel: x\n' >p.yaml
rn execute notebook_map.yaml nbmap -p p.yaml
expect_rc 0 "a notebook in map iterations"
LOG=.run_log_store/nbmap.json
assert_eq_py "$LOG" 'values(doc["parameters"])["doubled"]' '[2, 4]' "the map variable is injected into each iteration"
expect_file notebooks/calc-n1calc_out.ipynb "iteration 1's notebook is named with its map variable"
expect_file notebooks/calc-n2calc_out.ipynb "iteration 2's notebook is named with its map variable"
expect_file .catalog/nbmap/notebooks/calc-n2calc_out.ipynb "iteration 2's notebook is in the catalog"

workdir validate
printf 'dag:\n  start_at: t\n  steps:\n    t:\n      type: task\n      command_type: notebook\n      command: notebooks/calc.py\n      next: success\n' >bad.yaml
rn validate bad.yaml
expect_rc 2 "a notebook command that is not .ipynb is refused"
expect_err_re "bad.yaml:[0-9]+:[0-9]+: .*must end in .ipynb" "the error says why, with the position"

done_testing
