#!/bin/bash
# The node protocol (docs/node-protocol.md): `execute-single-node` runs one
# step of a stored run and `fan` prepares and finishes composite steps, as
# container, Argo and Slurm executors drive a run.  A pipeline walked node
# by node (tests/cli/node_walker.py, one process per node, chunked-fs)
# must leave the same run log — statuses, attempts, parameters in every
# scope, branches — as `runnable execute` of the same pipeline.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
P=$FIXTURES/pipelines
RUNNER=$RN_PROG
if [ -n "$RN_PROG_LIBPATH" ]; then
    export LD_LIBRARY_PATH=$RN_PROG_LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

workdir walk
printf 'run-log-store:\n  type: chunked-fs\n' >ck.yaml
printf 'seed: 7\nshared: root\nitems: [2, a, {k: 1}, true]\n' >p.yaml
printf 'seed: 7\nfail_at: none\n' >n-ok.yaml
printf 'seed: 7\nfail_at: cell-a1\n' >n-cell.yaml
printf 'seed: 7\nfail_at: mk\n' >n-mk.yaml
printf 'seed: 7\ncoin_side: heads\nwant: heads\n' >c-heads.yaml
printf 'seed: 7\ncoin_side: edge\nwant: default\n' >c-default.yaml
printf 'items: [3, 1, 2]\n' >r.yaml

i=0
# same_as_execute WHAT PIPELINE [OPTIONS]: execute, then walk node by node.
same_as_execute() {
    local what=$1 file=$2
    shift 2
    i=$((i + 1))
    rn execute "$file" "ref-$i" -c ck.yaml "$@"
    [ "$RC" -le 1 ] || fail "$what: the reference run" "exit $RC"
    rn runs show "ref-$i" --json -c ck.yaml
    cp "$OUT" "ref-$i.json"
    "$PY" "$RN_SRCDIR/tests/cli/node_walker.py" "$RUNNER" "walk-$i" "$file" "ref-$i.json" \
        -c ck.yaml "$@" >"calls-$i.txt" 2>"walk-$i.err" ||
        fail "$what: walked node by node" "$(cat "walk-$i.err")"
    same_run_log "ref-$i" ck.yaml "walk-$i" ck.yaml "$what: node by node = execute"
    pass "$what: node by node gives execute's run log ($(json_get "ref-$i.json" 'doc["status"]'), $(wc -l <"calls-$i.txt") processes)"
}

. "$RN_SRCDIR/tests/cli/walk_cases.sh"
walk_cases
[ "$(json_get ref-1.json 'doc["status"]')" = SUCCESS ] && [ "$(json_get ref-10.json 'doc["status"]')" = SUCCESS ] ||
    fail "the walked pipelines include successful runs"
pass "the walked pipelines include successful runs"
grep -q -- '--iter-variable {"map_variable": {"r": {"value": 1}, "c": {"value": "a1"}}' calls-10.txt ||
    fail "a cell of the inner map is run with both map items" "$(grep cell calls-10.txt | head -3)"
pass "a cell of the inner map is run with both map items, outermost first"

# A run log past 64 KiB: every node after the first finds where the steps
# lie in the layout cache the node before left (docs/run-log-layout.md)
# instead of scanning RunLog.json, and writes on from there.
{
    printf 'dag:\n  start_at: s0\n  steps:\n'
    for ((k = 0; k < 120; k++)); do
        printf '    s%d:\n      type: task\n      command_type: shell\n' "$k"
        printf '      command: "echo step %d of a long pipeline with a long description"\n' "$k"
        printf '      next: %s\n' "$([ $k -lt 119 ] && echo "s$((k + 1))" || echo success)"
    done
    printf '    success:\n      type: success\n    fail:\n      type: fail\n'
} >long.yaml
same_as_execute "a 120-step pipeline" long.yaml
size=$(stat -c %s ".run_log_store/walk-$i/RunLog.json")
[ "$size" -gt 65536 ] && [ -f ".run_log_store/walk-$i/.RunLog.json.layout" ] ||
    fail "the 120-step run log is large enough to have a layout cache" "$size bytes; $(ls -a ".run_log_store/walk-$i")"
pass "the 120-step run log ($size bytes) was written node by node through its layout cache"

# The commands one by one: exit statuses and messages a caller relies on.
workdir single
cat >p.yaml <<'YAML'
dag:
  start_at: hello stub
  steps:
    hello stub:
      type: stub
      next: flaky
    flaky:
      type: task
      command_type: shell
      command: n=$(cat tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n >tries; [ $n -ge 2 ] && export got="$seed-$n"
      returns: [{name: got}]
      max_attempts: 3
      next: fanned
    fanned:
      type: map
      iterate_on: things
      iterate_as: thing
      branch:
        start_at: t
        steps:
          t:
            type: task
            command_type: shell
            command: export seen="$thing"
            returns: [{name: seen}]
            next: success
      next: success
YAML
printf 'seed: 5\n' >params.yaml
rn execute-single-node r1 p.yaml 'hello%stub' -p params.yaml
expect_rc 0 "the first node of a run creates its run log ('%' for a space)"
assert_eq_py .run_log_store/r1.json '(doc["status"], values(doc["parameters"]), doc["steps"]["hello stub"]["status"])' \
    '["PROCESSING", {"seed": 5}, "SUCCESS"]' "the new run holds the initial parameters and the step"
rn execute-single-node r1 flaky --file p.yaml
expect_rc 1 "a failing task: exit 1 (spelled RUN_ID STEP --file FILE)"
expect_err_has "flaky" "the message names the step"
assert_eq_py .run_log_store/r1.json '[a["status"] for a in doc["steps"]["flaky"]["attempts"]]' '["FAIL"]' \
    "one attempt per invocation, whatever max_attempts says"
rn execute-single-node r1 p.yaml flaky
expect_rc 0 "run again, it succeeds"
assert_eq_py .run_log_store/r1.json '([a["attempt_number"] for a in doc["steps"]["flaky"]["attempts"]], doc["steps"]["flaky"]["status"], values(doc["parameters"]))' \
    '[[1, 2], "SUCCESS", {"seed": 5, "got": "5-2"}]' "the second invocation is attempt 2; its returns reach the run's parameters"
rn fan r1 fanned p.yaml out
expect_rc 1 "fan out of a map whose iterate_on is not set fails the step"
assert_py .run_log_store/r1.json 'doc["steps"]["fanned"]["status"] == "FAIL" and "things" in doc["steps"]["fanned"]["message"]' \
    "the map step is recorded FAIL, saying which parameter is missing"

printf 'things: [x, 7]\n' >t.yaml
rn fan r2 fanned p.yaml out -p t.yaml --output items.json
expect_rc 0 "fan out of a map"
[ "$(cat "$OUT")" = '["x",7]' ] || fail "fan out prints the items" "got $(cat "$OUT")"
pass "fan out prints the items as JSON, types kept"
[ "$(cat items.json)" = '["x",7]' ] || fail "--output gets the same"
pass "--output gets the same"
assert_eq_py .run_log_store/r2.json 'sorted(doc["steps"]["fanned"]["branches"])' '["fanned.7", "fanned.x"]' \
    "a branch log for every item"
rn execute-single-node r2 p.yaml fanned.map_variable_placeholder.t
expect_rc 2 "a step inside a map without its item"
expect_err_has '--iter-variable' "the message says how to give the item"
rn execute-single-node r2 p.yaml fanned.map_variable_placeholder.t --map-variable '{"thing": 7}'
expect_rc 0 "--map-variable gives the item"
rn execute-single-node r2 p.yaml fanned.map_variable_placeholder.t --iter-variable '{"map_variable": {"thing": {"value": "x"}}}'
expect_rc 0 "--iter-variable gives the item"
rn fan r2 fanned in -f p.yaml
expect_rc 1 "fan in while the branches have not reached their end"
expect_err_has "fanned" "the message names the step"
assert_py .run_log_store/r2.json '"2 of 2 branches did not succeed" in doc["steps"]["fanned"]["message"]' \
    "the step says how many branches did not succeed"
for item in x 7; do
    rn execute-single-node r2 p.yaml fanned.map_variable_placeholder.success --map-variable "{\"thing\": $([ $item = x ] && echo '"x"' || echo 7)}"
    expect_rc 0 "branch $item reaches its success step"
done
rn fan r2 fanned in -f p.yaml
expect_rc 0 "fan in of the map"
assert_eq_py .run_log_store/r2.json '(doc["steps"]["fanned"]["status"], values(doc["parameters"])["seen"])' \
    '["SUCCESS", ["x", 7]]' "fan in: the step's status, the returns as a list in item order"

rn execute-single-node r2 p.yaml nope
expect_rc 2 "an unknown step"
expect_err_has "map_variable_placeholder" "the message shows what step names look like"
rn execute-single-node r2 p.yaml fanned
expect_rc 2 "execute-single-node of a composite"
expect_err_has "runnable fan" "the message points at fan"
rn fan r2 flaky p.yaml out
expect_rc 2 "fan of a task"
rn fan r2 fanned p.yaml sideways
expect_rc 2 "fan with neither in nor out"
rn execute-single-node r2 p.yaml fanned.map_variable_placeholder.t --iter-variable 'not json'
expect_rc 2 "a malformed --iter-variable"
rn execute-single-node r3 p.yaml fanned.map_variable_placeholder.t --map-variable '{"thing": 1}'
expect_rc 2 "a step of a map that was not fanned out"
expect_err_has "fanned out first" "the message says to fan out first"
rn execute-single-node r2 p.yaml
expect_rc 2 "a missing argument"

# A node's process reads only the top-level step it runs in (the run's
# maker checked the rest): except when it makes the run, which records the
# whole graph, so that is read and checked then.
workdir one_step
cat >good.yaml <<'YAML'
dag:
  start_at: a
  steps:
    a: {type: task, command_type: shell, command: "true", next: b}
    b: {type: task, command_type: shell, command: "true", next: c}
    c: {type: stub, next: success}
YAML
{ cat good.yaml; printf '    d: {type: task, command_type: shell, next: success}\n'; } >bad.yaml
rn execute good.yaml whole
expect_rc 0 "the reference run"
rn execute-single-node byNode good.yaml b
expect_rc 0 "a node that makes the run"
assert_py .run_log_store/byNode.json "doc['dag_hash'] == json.load(open('$PWD/.run_log_store/whole.json'))['dag_hash'] and doc['run_config']['dag'] == json.load(open('$PWD/.run_log_store/whole.json'))['run_config']['dag']" \
    "the run it makes records the whole graph (execute's dag and dag_hash)"
rn execute-single-node other bad.yaml b
expect_rc 2 "making a run from a file with a broken step elsewhere is an input error"
expect_err_has "bad.yaml:7:" "the error points at the broken step"
[ ! -e .run_log_store/other.json ] || fail "nothing is written for a broken file"
pass "nothing is written for a broken file"
rn execute-single-node byNode bad.yaml c
expect_rc 0 "a node of a stored run reads only its own step"
# The steps before the node's are passed over line by line: a problem in
# its own step is still named by its line.
{
    printf 'dag:\n  start_at: a\n  steps:\n'
    for s in a b; do
        printf '    %s:\n      type: task\n      command_type: shell\n      command: "true"\n' $s
        printf '      next: %s\n' "$([ $s = a ] && echo b || echo c)"
    done
    printf '    c:\n      type: task\n      command_type: shell\n      comand: "true"\n'
}>own.yaml
rn execute-single-node byNode own.yaml c
expect_rc 2 "a problem in the node's own step is an input error"
expect_err_has "own.yaml:17:7: step 'c': unknown field 'comand'" "named by its line and column"
expect_err_lacks "must be a non-empty string" "the missing command is said once (not again by the task type)"
rn execute-single-node byNode good.yaml success
expect_rc 0 "the end node reads the whole graph"
assert_eq_py .run_log_store/byNode.json '[doc["steps"][s]["status"] for s in ("b", "c", "success")]' \
    '["SUCCESS", "SUCCESS", "SUCCESS"]' "the run log holds every node run"

# Secrets and the experiment tracker are opened by a node's process only
# when its step uses them: a broken secrets setting stops the step that
# names a secret, saying where, and not the ones that name none.
workdir deferred
cat >sec.yaml <<'YAML'
dag:
  start_at: plain
  steps:
    plain: {type: task, command_type: shell, command: "true", next: secret}
    secret: {type: task, command_type: shell, command: 'test "$TOKEN" = s3cret', secrets: [TOKEN], next: success}
YAML
printf 'TOKEN=s3cret\n' >.env
printf 'secrets:\n  type: dotenv\n  config:\n    location: .env\n' >good.cfg
printf 'secrets:\n  type: dotenv\n  config:\n    where: .env\n' >broken.cfg
rn execute sec.yaml whole -c broken.cfg
expect_rc 2 "execute checks every service before it starts"
rn execute-single-node ok sec.yaml plain -c good.cfg
expect_rc 0 "a node without secrets"
rn execute-single-node ok sec.yaml secret -c good.cfg
expect_rc 0 "a node whose step reads a secret opens the secrets provider and gets it"
rn execute-single-node broken sec.yaml plain -c broken.cfg
expect_rc 0 "a node whose step names no secret does not open the broken provider"
rn execute-single-node broken sec.yaml secret -c broken.cfg
expect_rc 1 "a node whose step names a secret fails on the broken provider"
assert_py .run_log_store/broken.json \
    "step('secret')['status'] == 'FAIL' and 'broken.cfg:4:5:' in attempt('secret')['message']" \
    "the step's attempt says why, pointing at the setting"
done_testing
