#!/bin/bash
# The emulator executor (docs/node-protocol.md): the engine traverses the
# pipeline and every task attempt runs in a `runnable execute-single-node`
# process of its own, the way container and cluster executors run steps.
# The run log must be the one the local executor makes: statuses,
# attempts, parameters in every scope, branches.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
P=$FIXTURES/pipelines

workdir compare
printf 'seed: 7\nshared: root\nitems: [2, a, {k: 1}, true]\n' >p.yaml
printf 'seed: 7\nfail_at: none\n' >n-ok.yaml
printf 'seed: 7\nfail_at: cell-b2\n' >n-cell.yaml
printf 'seed: 7\ncoin_side: heads\nwant: heads\n' >c-heads.yaml
printf 'count: 10\nstop_at: 2\nfail_at: -1\n' >loop.yaml
i=0
# same_as_local WHAT STORE PARALLEL PIPELINE [OPTIONS]
same_as_local() {
    local what=$1 store=$2 par=$3 file=$4
    shift 4
    i=$((i + 1))
    printf 'run-log-store:\n  type: %s\npipeline-executor:\n  type: local\n  config: {enable_parallel: %s}\n' \
        "$store" "$par" >"local-$i.yaml"
    printf 'run-log-store:\n  type: %s\npipeline-executor:\n  type: emulator\n  config: {enable_parallel: %s}\n' \
        "$store" "$par" >"emu-$i.yaml"
    rn execute "$file" "local-$i" -c "local-$i.yaml" "$@"
    local want=$RC
    rn execute "$file" "emu-$i" -c "emu-$i.yaml" "$@"
    [ "$RC" = "$want" ] || fail "$what: exit status as with local" "local $want, emulator $RC"
    same_run_log "local-$i" "local-$i.yaml" "emu-$i" "emu-$i.yaml" \
        "$what: the emulator's run log is local's"
    pass "$what ($store, enable_parallel $par): the run log and exit status ($want) of local"
}

same_as_local "linear" file-system false "$RN_SRCDIR/examples/hello.yaml"
same_as_local "failure, on_failure" file-system false "$P/on_failure.yaml"
same_as_local "failure" chunked-fs false "$P/fail.yaml"
same_as_local "parallel" chunked-fs true "$C/parallel.yaml" -p p.yaml
same_as_local "map" chunked-fs true "$C/map.yaml" -p p.yaml
same_as_local "map" file-system false "$C/map.yaml" -p p.yaml
same_as_local "conditional" chunked-fs false "$C/conditional.yaml" -p c-heads.yaml
same_as_local "loop" chunked-fs false "$C/loop.yaml" -p loop.yaml
same_as_local "map in map in parallel" chunked-fs true "$C/nested.yaml" -p n-ok.yaml
same_as_local "map in map in parallel, a cell fails" chunked-fs true "$C/nested.yaml" -p n-cell.yaml
same_as_local "depends_on graph" chunked-fs true "$C/dag_diamond.yaml"

# Every task ran in a process of its own: each recorded its own pid.
workdir pids
cat >p.yaml <<'YAML'
dag:
  start_at: a
  steps:
    a:
      type: task
      command_type: shell
      command: export ppid_a=$PPID
      returns: [{name: ppid_a}]
      next: b
    b:
      type: task
      command_type: shell
      command: export ppid_b=$PPID
      returns: [{name: ppid_b}]
      next: success
YAML
printf 'pipeline-executor:\n  type: emulator\n' >emu.yaml
rn_bg execute p.yaml pids -c emu.yaml
rn_wait
expect_rc 0 "a run under the emulator"
assert_py .run_log_store/pids.json 'len({values(doc["parameters"])["ppid_a"], values(doc["parameters"])["ppid_b"]}) == 2' \
    "each task's parent is a process of its own (two different parents)"
assert_py .run_log_store/pids.json '"'"$ENGINE"'" not in (str(values(doc["parameters"])["ppid_a"]), str(values(doc["parameters"])["ppid_b"]))' \
    "and not the engine itself"

# Retries and timeouts are the engine's: one process per attempt.
workdir retry
cat >p.yaml <<'YAML'
dag:
  start_at: flaky
  steps:
    flaky:
      type: task
      command_type: shell
      command: n=$(cat tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n >tries; [ $n -ge 3 ]
      max_attempts: 3
      next: slow
    slow:
      type: task
      command_type: shell
      command: sleep 30
      timeout: 1
      next: success
YAML
printf 'pipeline-executor:\n  type: emulator\n  config: {kill_grace: 1}\n' >emu.yaml
rn execute p.yaml r -c emu.yaml
expect_rc 1 "a run with a retried step and a step that times out"
assert_eq_py .run_log_store/r.json '[a["status"] for a in doc["steps"]["flaky"]["attempts"]]' \
    '["FAIL", "FAIL", "SUCCESS"]' "three attempts, each its own process, the last succeeds"
assert_py .run_log_store/r.json 'doc["steps"]["slow"]["status"] == "FAIL" and "timed out" in doc["steps"]["slow"]["attempts"][-1]["message"]' \
    "the engine's timeout stops the step's process"

# A step's process that cannot start: the step fails and says why.
workdir broken
printf 'pipeline-executor:\n  type: emulator\n  config: {runnable: /nonexistent/runnable}\n' >emu.yaml
rn execute "$RN_SRCDIR/examples/hello.yaml" b -c emu.yaml
expect_rc 1 "a run whose step processes cannot start"
assert_py .run_log_store/b.json 'doc["steps"]["greet"]["status"] == "FAIL" and "/nonexistent/runnable" in doc["steps"]["greet"]["attempts"][-1]["message"]' \
    "the failed step says which program could not start"
printf 'pipeline-executor:\n  type: emulator\n  config: {runnable: 3}\n' >bad.yaml
rn validate "$RN_SRCDIR/examples/hello.yaml" -c bad.yaml
expect_rc 2 "a bad 'runnable' setting is an input error"
expect_err_has "runnable" "the message names the setting"
# Many step processes writing one run at once (each store): sixteen
# independent root steps all rewrite the root file, and forty map
# iterations their branch files while the engine writes the map's.  Every
# update must land: each writer takes its turn (json_docfile.h), and a
# file being read is never written over.
workdir writers
{
    printf 'dag:\n  steps:\n    start: {type: task, command_type: shell, command: "export x=1", returns: [{name: x}], depends_on: []}\n'
    for k in $(seq 1 16); do
        printf '    s%d: {type: task, command_type: shell, command: "export y%d=$((x + %d))", returns: [{name: y%d}], depends_on: [start]}\n' "$k" "$k" "$k" "$k"
    done
} >wide.yaml
cat >fan.yaml <<'YAML'
dag:
  start_at: items
  steps:
    items: {type: task, command_type: shell, command: 'export items="[$(seq -s, 1 40)]"', returns: [{name: items}], next: fan}
    fan:
      type: map
      iterate_on: items
      iterate_as: it
      branch:
        start_at: a
        steps:
          a: {type: task, command_type: shell, command: 'export v=$it', returns: [{name: v}], next: b}
          b: {type: task, command_type: shell, command: 'true', next: success}
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
YAML
for store in file-system chunked-fs; do
    printf 'run-log-store:\n  type: %s\npipeline-executor:\n  type: emulator\n  config: {enable_parallel: true, max_parallel: 16}\n' \
        "$store" >"$store.yaml"
    for k in 1 2 3; do
        rn execute wide.yaml "w-$store-$k" -c "$store.yaml"
        expect_rc 0 "sixteen root steps in processes of their own ($store, run $k)"
        rn runs show "w-$store-$k" --json -c "$store.yaml"
        assert_py "$OUT" 'doc["parameters"]["x"]["value"] == 1 and all(doc["parameters"]["y%d" % k]["value"] == k + 1 for k in range(1, 17)) and all(s["status"] == "SUCCESS" for s in doc["steps"].values())' \
            "every root step's returned value reached the run ($store, run $k)"
    done
    rn execute fan.yaml "f-$store" -c "$store.yaml"
    expect_rc 0 "a map of 40 iterations, each step in a process of its own ($store)"
    rn runs show "f-$store" --json -c "$store.yaml"
    assert_eq_py "$OUT" 'doc["parameters"]["v"]["value"]' "$(seq -s ', ' 1 40 | sed 's/^/[/; s/$/]/')" \
        "every iteration's value is in the run's parameters, in order ($store)"
done
# Layout caches (*.layout) stay on purpose (docs/run-log-layout.md); their
# temporary files (*.layout.<pid>) must not.
left=$(find .run_log_store -name '.*' -type f ! -name .lock ! -name '*.layout' | grep -v /.summaries/ || true)
[ -z "$left" ] || fail "no shadow or spare file left behind by the step processes" "$left"
pass "no shadow or spare file left behind by the step processes"
done_testing
