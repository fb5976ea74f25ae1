#!/bin/bash
# depends_on graphs end to end (docs/composites.md): a diamond, run one
# step at a time and side by side; a failure and the steps it SKIPs;
# skip_on_error; stop_on_first_failure with enable_parallel; depends_on
# graphs as branches of parallel and map steps; mixing next and depends_on
# in one graph is an input error.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
PAR=$C/parallel.config.yaml

# ran WHAT FILE... / not_ran WHAT FILE...: marker files written by tasks.
ran() {
    local what=$1 f
    shift
    for f in "$@"; do
        [ -e "$f.ran" ] || fail "$what: $f ran" "no $f.ran in $PWD"
    done
    pass "$what: ran $*"
}
not_ran() {
    local what=$1 f
    shift
    for f in "$@"; do
        [ ! -e "$f.ran" ] || fail "$what: $f did not run" "found $f.ran"
    done
    pass "$what: did not run $*"
}

# ---------------------------------------------------------------- diamond
for mode in sequential parallel; do
    workdir "diamond-$mode"
    cfg=()
    [ $mode = parallel ] && cfg=(-c "$PAR")
    rn execute "$C/dag_diamond.yaml" d "${cfg[@]}"
    what="diamond ($mode)"
    expect_rc 0 "$what: succeeds"
    LOG=$(log_of d)
    assert_eq_py "$LOG" '(doc["status"], statuses())' \
        '["SUCCESS", {"start": "SUCCESS", "left_step": "SUCCESS", "right_step": "SUCCESS", "join": "SUCCESS", "success": "SUCCESS"}]' \
        "$what: every step SUCCESS, the graph ends in success"
    assert_eq_py "$LOG" '{n: s["step_type"] for n, s in steps.items()}' \
        '{"start": "task", "left_step": "task", "right_step": "task", "join": "task", "success": "success"}' \
        "$what: step types"
    assert_py "$LOG" 'ts(attempt("start")["end_time"]) <= min(ts(attempt("left_step")["start_time"]), ts(attempt("right_step")["start_time"]))' \
        "$what: the middle steps start after start ended"
    assert_py "$LOG" 'ts(attempt("join")["start_time"]) >= max(ts(attempt("left_step")["end_time"]), ts(attempt("right_step")["end_time"]))' \
        "$what: join waits for both of its dependencies"
    assert_eq_py "$LOG" 'values(doc["parameters"])' '{"x": 1, "left": 2, "right": 3}' \
        "$what: returns reach the root scope (and join, which checks them)"
    [ "$(head -n 1 order.txt)" = start ] && [ "$(tail -n 1 order.txt)" = join ] && [ "$(wc -l <order.txt)" -eq 4 ] ||
        fail "$what: start first, join last, each once" "order.txt: $(tr '\n' ' ' <order.txt)"
    pass "$what: start first, join last, each once"
    settled "$LOG" "$what"
done
assert_py "$LOG" 'ts(attempt("left_step")["start_time"]) < ts(attempt("right_step")["end_time"]) and ts(attempt("right_step")["start_time"]) < ts(attempt("left_step")["end_time"])' \
    "diamond (parallel): the independent middle steps overlapped"
cd "$RN_TMP/diamond-sequential"
assert_py "$(log_of d)" 'ts(attempt("left_step")["end_time"]) <= ts(attempt("right_step")["start_time"]) or ts(attempt("right_step")["end_time"]) <= ts(attempt("left_step")["start_time"])' \
    "diamond (sequential): without enable_parallel the middle steps ran one after the other"

# ---------------------------------------------------------------- failure
for mode in sequential parallel; do
    workdir "fail-$mode"
    cfg=()
    [ $mode = parallel ] && cfg=(-c "$PAR")
    rn execute "$C/dag_fail.yaml" f "${cfg[@]}"
    what="failure ($mode)"
    expect_rc 1 "$what: the run fails"
    expect_out_re '^run f: FAIL' "$what: summary says FAIL"
    LOG=$(log_of f)
    assert_eq_py "$LOG" '(doc["status"], statuses())' \
        '["FAIL", {"a": "SUCCESS", "b": "FAIL", "c": "SKIPPED", "e": "SKIPPED", "d": "SUCCESS", "f": "SKIPPED", "fail": "SUCCESS"}]' \
        "$what: what depends on b, directly or not, is SKIPPED; d runs; the graph's fail step is recorded"
    assert_eq_py "$LOG" '[step(n)["attempts"] for n in ("c", "e", "f")]' '[[], [], []]' \
        "$what: SKIPPED steps have no attempts"
    assert_eq_py "$LOG" '(step("e")["step_type"], step("e")["branches"])' '["parallel", {}]' \
        "$what: the SKIPPED parallel step ran no branch"
    ran "$what" a b d
    not_ran "$what" c e f
    settled "$LOG" "$what"
done

# ---------------------------------------------------------------- skip_on_error
workdir skip
rn execute "$C/dag_skip.yaml" s
expect_rc 0 "skip_on_error: the run succeeds"
LOG=$(log_of s)
assert_eq_py "$LOG" '(doc["status"], statuses())' \
    '["SUCCESS", {"a": "SUCCESS", "flaky": "FAIL", "after_flaky": "SKIPPED", "both": "SKIPPED", "solid": "SUCCESS", "last": "SUCCESS", "success": "SUCCESS"}]' \
    "skip_on_error: flaky FAIL, its dependents SKIPPED, the graph ends in success"
assert_eq_py "$LOG" '[a["status"] for a in step("flaky")["attempts"]]' '["FAIL"]' "skip_on_error: flaky's attempt is recorded FAIL"
ran "skip_on_error" a flaky solid last
not_ran "skip_on_error" after_flaky both
settled "$LOG" "skip_on_error"

# ---------------------------------------------------------------- stop_on_first_failure
workdir stop
rn execute "$C/dag_stop.yaml" st -c "$PAR"
expect_rc 1 "stop_on_first_failure: the run fails"
LOG=$(log_of st)
assert_eq_py "$LOG" '{n: s for n, s in statuses().items() if n != "nested"}' \
    '{"quick_fail": "FAIL", "gate": "SUCCESS", "queued": "SKIPPED", "after_fail": "SKIPPED", "fail": "SUCCESS"}' \
    "stop_on_first_failure: running steps finish, steps not started are SKIPPED"
ran "stop_on_first_failure" gate s1
not_ran "stop_on_first_failure" queued after_fail
assert_eq_py "$LOG" 'step("nested.chain.s1")["status"]' '"SUCCESS"' \
    "stop_on_first_failure: the task running inside the parallel step finished"
assert_eq_py "$LOG" 'doc["status"]' '"FAIL"' "stop_on_first_failure: run FAIL"
settled "$LOG" "stop_on_first_failure"
# (inside the parallel step nothing new starts either: see the end)

workdir nostop
sed 's/stop_on_first_failure: true/stop_on_first_failure: false/' "$C/dag_stop.yaml" >pipeline.yaml
grep -q 'stop_on_first_failure: false' pipeline.yaml || fail "made a copy with stop_on_first_failure: false"
rn execute pipeline.yaml ns -c "$PAR"
expect_rc 1 "stop_on_first_failure: false: the run still fails"
assert_eq_py "$(log_of ns)" 'statuses()' \
    '{"quick_fail": "FAIL", "gate": "SUCCESS", "queued": "SUCCESS", "nested": "SUCCESS", "after_fail": "SKIPPED", "fail": "SUCCESS"}' \
    "stop_on_first_failure: false: independent steps still start after the failure"
ran "stop_on_first_failure: false" gate queued s1 s2
not_ran "stop_on_first_failure: false" after_fail

# ---------------------------------------------------------------- DAG branches
for mode in sequential parallel; do
    workdir "branch-$mode"
    printf 'items: [a, b]\nfail_z: no\n' >p.yaml
    cfg=()
    [ $mode = parallel ] && cfg=(-c "$PAR")
    rn execute "$C/dag_branch.yaml" b -p p.yaml "${cfg[@]}"
    what="DAG branches ($mode)"
    expect_rc 0 "$what: succeed"
    LOG=$(log_of b)
    assert_eq_py "$LOG" 'statuses()' '{"split": "SUCCESS", "per_item": "SUCCESS", "success": "SUCCESS"}' "$what: root steps"
    assert_eq_py "$LOG" 'statuses(step("split")["branches"]["split.graph"]["steps"])' \
        '{"split.graph.x": "SUCCESS", "split.graph.y": "SUCCESS", "split.graph.z": "SUCCESS", "split.graph.w": "SUCCESS", "split.graph.success": "SUCCESS"}' \
        "$what: the DAG branch's steps, named <step>.<branch>.<name>"
    assert_py "$LOG" 'ts(attempt("split.graph.w")["start_time"]) >= max(ts(attempt("split.graph.y")["end_time"]), ts(attempt("split.graph.z")["end_time"]))' \
        "$what: w waited for y and z"
    assert_eq_py "$LOG" 'statuses(step("per_item")["branches"]["per_item.b"]["steps"])' \
        '{"per_item.b.p": "SUCCESS", "per_item.b.q": "SUCCESS", "per_item.b.success": "SUCCESS"}' \
        "$what: a map whose branch is a DAG"
    assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("x", "y", "z", "w", "c", "p", "q")}' \
        '{"x": 1, "y": 2, "z": 3, "w": 6, "c": 1, "p": ["a", "b"], "q": ["aa", "bb"]}' \
        "$what: values flow out of DAG branches like out of any branch"
    settled "$LOG" "$what"
done

workdir branch-fails
printf 'items: [a, b]\nfail_z: yes\n' >p.yaml
rn execute "$C/dag_branch.yaml" bf -p p.yaml
expect_rc 1 "DAG branch with a failure: recover leads to fail"
LOG=$(log_of bf)
assert_eq_py "$LOG" '(doc["status"], statuses())' '["FAIL", {"split": "FAIL", "recover": "SUCCESS", "fail": "SUCCESS"}]' \
    "DAG branch with a failure: the parallel step FAILs, on_failure followed"
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("split")["branches"].items()}' \
    '{"split.graph": "FAIL", "split.chain": "SUCCESS"}' "DAG branch with a failure: the DAG branch FAILs"
assert_eq_py "$LOG" 'statuses(step("split")["branches"]["split.graph"]["steps"])' \
    '{"split.graph.x": "SUCCESS", "split.graph.y": "SUCCESS", "split.graph.z": "FAIL", "split.graph.w": "SKIPPED", "split.graph.fail": "SUCCESS"}' \
    "DAG branch with a failure: w SKIPPED, the branch's fail step recorded"
expect_file recovered.ran "DAG branch with a failure: nothing merged (recover saw no w, no c)"
assert_py "$LOG" 'not {"w", "c", "x", "p", "q"} & set(doc["parameters"])' "DAG branch with a failure: root scope unchanged"
settled "$LOG" "DAG branch with a failure"

# ---------------------------------------------------------------- next + depends_on
# file | text of the lines the error may point at (the steps that mix)
while IFS='|' read -r file l1 l2; do
    for cmd in validate execute; do
        workdir "mixed-$file-$cmd"
        rn $cmd "$C/$file.yaml"
        expect_rc 2 "$file: $cmd refuses a graph mixing next and depends_on"
        expect_err_re "^runnable: error: [^ ]*$file\.yaml:[0-9]+:[0-9]+: " "$file: $cmd reports FILE:LINE:COL"
        line=$(sed -n "s/^runnable: error: [^ ]*$file\.yaml:\([0-9]*\):[0-9]*: .*/\1/p" "$ERR" | head -n 1)
        ok=$(grep -n -F -e "$l1" -e "$l2" "$C/$file.yaml" | cut -d: -f1 | tr '\n' ' ')
        case " $ok" in
            *" $line "*) pass "$file: $cmd points at line $line, where next or depends_on mixes" ;;
            *) fail "$file: $cmd points at the mixing step" "line $line, expected one of: $ok" ;;
        esac
        expect_err_has "depends_on" "$file: $cmd's message names depends_on"
        expect_nothing_written "$file: $cmd"
    done
done <<'EOF'
bad_mixed|      next: success|      depends_on: [a]
bad_mixed_branch|              next: m2|              depends_on: [m1]
EOF

# ---------------------------------------------------------------- stop, below
# stop_on_first_failure also holds inside composites below the graph: the
# branch of nested does not go on to s2 once quick_fail has failed.
# (Checked last, on the run above.)
cd "$RN_TMP/stop"
RN_LAST_CMD="(the stop_on_first_failure run above, in this folder)"
: >"$OUT"; : >"$ERR"
LOG=$(log_of st)
not_ran "stop_on_first_failure, inside a composite" s2
assert_py "$LOG" 'statuses(step("nested")["branches"]["nested.chain"]["steps"]).get("nested.chain.s2", "SKIPPED") == "SKIPPED"' \
    "stop_on_first_failure: s2 never started (absent or SKIPPED)"
assert_py "$LOG" 'step("nested")["status"] != "SUCCESS"' \
    "stop_on_first_failure: the parallel step whose branch was stopped did not succeed"

done_testing
