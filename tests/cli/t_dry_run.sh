#!/bin/bash
# runnable execute --dry-run (docs/dry-run.md): the steps a run would take,
# in order, with map items and conditional choices resolved from the
# initial parameters; nothing runs, nothing is written, and bad input is
# still reported with file:line:col and exit 2.
. "$(dirname "$0")/lib.sh"

F=$FIXTURES/dry_run

# expect_out_is WHAT: stdout is exactly the text on stdin.
expect_out_is() {
    cat >"$RN_OUT/want"
    if ! cmp -s "$RN_OUT/want" "$OUT"; then
        fail "$1" "stdout differs from the expected plan (diff expected actual):" \
            "$(diff "$RN_OUT/want" "$OUT" | head -n 40)"
    fi
    pass "$1"
}

# expect_folder_has WHAT NAMES...: the work folder holds exactly NAMES.
expect_folder_has() {
    local what=$1 want got
    shift
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    got=$(ls -A | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "$what" "expected the folder to hold: ${want:-nothing}" \
        "found: ${got:-nothing}"
    pass "$what"
}

# ---------------------------------------------------------------- chain
workdir chain
rn execute --dry-run "$F/chain.yaml"
expect_rc 0 "chain: --dry-run exits 0"
expect_out_is "chain: the success path, failure paths as notes" <<'EOF'
prepare                 task (shell)
  (on failure: cleanup -> report -> fail)
publish                 stub
  (on failure: success)
success                 success
EOF
[ ! -s "$ERR" ] || fail "chain: nothing on stderr" "stderr: $(cat "$ERR")"
pass "chain: nothing on stderr (no run id, no summary)"
expect_nothing_written "chain"
expect_no_file prepare.ran "chain: the task did not run"
expect_folder_has "chain: the work folder is still empty"

# A run id given on the command line changes nothing.
rn execute --dry-run "$F/chain.yaml" some-id
expect_rc 0 "chain with a run id: exits 0"
expect_out_has "prepare                 task (shell)" "chain with a run id: the plan"
expect_folder_has "chain with a run id: nothing written"

# ---------------------------------------------------------------- DAG
workdir dag
rn execute --dry-run "$F/dag.yaml"
expect_rc 0 "dag: exits 0"
expect_out_is "dag: level by level, file order within a level, then success" <<'EOF'
extract                 stub
lint                    stub
middle                  task (shell)
side                    stub
late                    stub
success                 success
EOF
expect_no_file middle.ran "dag: the task did not run"
expect_folder_has "dag: nothing written"

# ---------------------------------------------------------------- composites
workdir composites
rn execute --dry-run -p "$F/params.yaml" "$F/composites.yaml"
expect_rc 0 "composites with -p: exits 0"
expect_out_is "composites with -p: known items and choice expanded, the rest noted" <<'EOF'
make                    task (shell)
split                   parallel
  split.left.count      task (shell)
  split.left.success    success
  split.right.noop      stub
  split.right.success   success
fan                     map over items: 3 items
  fan.1.work            task (shell)
  fan.1.success         success
  fan.2.work            task (shell)
  fan.2.success         success
  fan.3.work            task (shell)
  fan.3.success         success
later                   map over made
  (the list made is produced at run time: one branch per item)
  later.<items of made>.use  stub
  later.<items of made>.success  success
toss                    conditional: coin is heads
  toss.heads.on_heads   stub
  toss.heads.success    success
feel                    conditional on mood
  (mood is produced at run time: every branch shown)
  (if mood is calm)
  feel.calm.relax       stub
  feel.calm.success     success
  (otherwise)
  feel.default.worry    stub
  feel.default.success  success
poll                    loop
  (repeated up to 5 times, until ready)
  poll.0.check          task (shell)
  poll.0.success        success
success                 success
EOF
expect_folder_has "composites: no task ran, nothing written"

# Without -p: a parameter nobody sets is a certain failure, said so.
rn execute --dry-run "$F/composites.yaml"
expect_rc 0 "composites without -p: exits 0"
expect_out_has "fan                     map over items" "composites without -p: the map has no item count"
expect_out_has "  (will fail: items is neither an initial parameter nor returned by an earlier step)" \
    "composites without -p: the map over an unset list will fail"
expect_out_has "  (will fail: coin is neither an initial parameter nor returned by an earlier step)" \
    "composites without -p: the conditional on an unset parameter will fail"

# RUNNABLE_PRM_ overrides count as initial parameters.
RUNNABLE_PRM_coin=tails rn execute --dry-run -p "$F/params.yaml" "$F/composites.yaml"
expect_rc 0 "RUNNABLE_PRM_coin=tails: exits 0"
expect_out_has "toss                    conditional: coin is tails" "RUNNABLE_PRM_coin chooses the branch"
expect_out_has "  toss.tails.on_tails   stub" "RUNNABLE_PRM_coin: the tails branch is listed"
if grep -q -F "toss.heads" "$OUT"; then
    fail "RUNNABLE_PRM_coin: the heads branch is not listed"
fi
pass "RUNNABLE_PRM_coin: the heads branch is not listed"

# Items that would stop the map are reported, not expanded.
printf 'items: [1.5, 2]\ncoin: 3\n' >"$RN_OUT/floats.yaml"
rn execute --dry-run -p "$RN_OUT/floats.yaml" "$F/composites.yaml"
expect_rc 0 "float items: exits 0"
expect_out_has "fan                     map over items: 2 items" "float items: counted"
expect_out_has "  (will fail: item 1.5 of items contains '.', which cannot be part of a branch name)" \
    "float items: the map will fail"
expect_out_has "  (will fail: no branch matches coin = 3 and there is no default branch)" \
    "coin 3: no branch matches"
expect_folder_has "float items: nothing written"

# ---------------------------------------------------------------- nesting
# With stores that write to disk, to show that none of them is opened for
# writing.
workdir nested
cat >config.yaml <<'EOF'
run-log-store:
  type: chunked-fs
catalog:
  type: file-system
EOF
rn execute --dry-run -c config.yaml -p "$F/params.yaml" "$F/nested.yaml"
expect_rc 0 "nested: exits 0"
expect_out_is "nested: map in parallel, conditional in map, DAG branch, map in loop" <<'EOF'
setup                   stub
split                   parallel
  split.outer.per_x     map over items: 3 items
    split.outer.per_x.1.work  task (shell)
      (on failure: split.outer.per_x.1.recover -> split.outer.per_x.1.fail)
    split.outer.per_x.1.route  conditional: coin is heads
      split.outer.per_x.1.route.heads.up  stub
      split.outer.per_x.1.route.heads.success  success
    split.outer.per_x.1.success  success
    split.outer.per_x.2.work  task (shell)
      (on failure: split.outer.per_x.2.recover -> split.outer.per_x.2.fail)
    split.outer.per_x.2.route  conditional: coin is heads
      split.outer.per_x.2.route.heads.up  stub
      split.outer.per_x.2.route.heads.success  success
    split.outer.per_x.2.success  success
    split.outer.per_x.3.work  task (shell)
      (on failure: split.outer.per_x.3.recover -> split.outer.per_x.3.fail)
    split.outer.per_x.3.route  conditional: coin is heads
      split.outer.per_x.3.route.heads.up  stub
      split.outer.per_x.3.route.heads.success  success
    split.outer.per_x.3.success  success
  split.outer.success   success
  split.side.a          stub
  split.side.b          stub
  split.side.success    success
poll                    loop
  (repeated up to 3 times, until done)
  poll.0.again          map over items
    (the list items is produced at run time: one branch per item)
    poll.0.again.<items of items>.redo  task (shell)
    poll.0.again.<items of items>.success  success
  poll.0.success        success
success                 success
EOF
expect_nothing_written "nested (chunked-fs, file-system catalog)"
expect_folder_has "nested: only the configuration in the folder, no task ran" config.yaml

# The plan names the records the real run makes: run it and compare (the
# loop body is a placeholder in the plan; the run stops after iteration 0).
rn execute --dry-run -p "$F/params.yaml" "$F/nested.yaml"
grep -v '^ *(' "$OUT" | awk '{print $1}' | grep -v -F '<' | sort >"$RN_OUT/planned"
workdir nested_run
cat >config.yaml <<'EOF'
run-log-store:
  type: file-system
EOF
rn execute -c config.yaml -p "$F/params.yaml" "$F/nested.yaml" real
expect_rc 0 "nested: the real run succeeds"
"$PY" - .run_log_store/real.json >"$RN_OUT/ran" <<'PYEOF'
import json, sys
names = []
def walk(steps):
    for name, step in steps.items():
        if not name.startswith("poll.0.again."):
            names.append(name)
        for branch in (step.get("branches") or {}).values():
            walk(branch["steps"])
walk(json.load(open(sys.argv[1]))["steps"])
print("\n".join(sorted(names)))
PYEOF
cmp -s "$RN_OUT/planned" "$RN_OUT/ran" ||
    fail "nested: the plan lists the steps the run records" "$(diff "$RN_OUT/planned" "$RN_OUT/ran")"
pass "nested: the plan lists the steps the run records"

# ---------------------------------------------------------------- bad input
workdir bad
rn execute --dry-run "$F/bad.yaml"
expect_rc 2 "bad pipeline: exit 2 with --dry-run"
expect_err_has "bad.yaml:7:7: step 'first': next points to 'nowhere'" "bad pipeline: file:line:col"
[ ! -s "$OUT" ] || fail "bad pipeline: no plan printed" "stdout: $(cat "$OUT")"
pass "bad pipeline: no plan printed"
expect_nothing_written "bad pipeline"

rn execute --dry-run -p "$FIXTURES/bad/not_mapping.params.yaml" "$F/chain.yaml"
expect_rc 2 "bad parameters file: exit 2 with --dry-run"
expect_err_has "not_mapping.params.yaml:1:1: the parameters file must be a mapping" \
    "bad parameters file: file:line:col"

rn execute --dry-run -c "$FIXTURES/bad/unknown_type.config.yaml" "$F/chain.yaml"
expect_rc 2 "bad configuration: exit 2 with --dry-run"
expect_err_has "unknown_type.config.yaml:4:1: no catalog provider of type 'nosuch'" \
    "bad configuration: file:line:col"
expect_folder_has "bad input: nothing written"

rn execute --help
expect_out_has "--dry-run" "execute --help mentions --dry-run"

done_testing
