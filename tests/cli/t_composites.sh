#!/bin/bash
# Composite steps end to end (docs/composites.md): parallel, map,
# conditional and loop, nested in each other; branch names in the run log,
# parameter scopes (every branch starts from a copy of its parent's scope,
# merge-back on success only), reducers, and a failure at every position
# and depth with the composite's on_failure followed.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
PAR=$C/parallel.config.yaml

# branch_logs LOG STEP WHAT: every branch of STEP is a BranchLog keyed by
# its internal name, and the step itself is a composite step log.
branch_logs() {
    assert_py "$1" "all(sorted(b) == ['internal_name', 'parameters', 'status', 'steps'] and b['internal_name'] == k for k, b in step('$2')['branches'].items())" \
        "$3: each branch of $2 is {internal_name, status, steps, parameters}, keyed by its name"
    assert_eq_py "$1" "step('$2')['attempts']" '[]' "$3: $2 has no attempts"
}

# mentioned TEXT LOG STEP WHAT: the failure of STEP is explained with a
# message naming TEXT, in the step log's message or in the engine's output.
mentioned() {
    local m
    m=$(json_get "$2" "step('$3')['message']")
    if printf '%s\n' "$m" | grep -F -q -e "$1" || grep -F -q -e "$1" "$ERR" "$OUT"; then
        pass "$4: the failure message names $1"
    else
        fail "$4: the failure message names $1" "step message: $m"
    fi
}

# ---------------------------------------------------------------- parallel
for mode in sequential parallel; do
    workdir "parallel-$mode"
    printf 'seed: 7\nshared: root\n' >p.yaml
    cfg=()
    [ $mode = parallel ] && cfg=(-c "$PAR")
    rn execute "$C/parallel.yaml" par -p p.yaml "${cfg[@]}"
    expect_rc 0 "parallel ($mode): branches see the root scope, not their siblings; merge in declaration order"
    LOG=$(log_of par)
    assert_eq_py "$LOG" 'statuses()' '{"split": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' \
        "parallel ($mode): root steps"
    assert_eq_py "$LOG" '(step("split")["step_type"], step("split")["internal_name"], step("split")["name"])' \
        '["parallel", "split", "split"]' "parallel ($mode): step type and names"
    assert_eq_py "$LOG" 'sorted(step("split")["branches"])' '["split.alpha", "split.mid", "split.zeta"]' \
        "parallel ($mode): branches named <step>.<key>"
    branch_logs "$LOG" split "parallel ($mode)"
    assert_eq_py "$LOG" '{k: b["status"] for k, b in step("split")["branches"].items()}' \
        '{"split.zeta": "SUCCESS", "split.alpha": "SUCCESS", "split.mid": "SUCCESS"}' \
        "parallel ($mode): every branch SUCCESS"
    assert_eq_py "$LOG" 'statuses(step("split")["branches"]["split.alpha"]["steps"])' \
        '{"split.alpha.set": "SUCCESS", "split.alpha.use": "SUCCESS", "split.alpha.success": "SUCCESS"}' \
        "parallel ($mode): branch steps named <step>.<key>.<name>, with the branch's success step"
    assert_eq_py "$LOG" '(step("split.alpha.use")["name"], step("split.alpha.use")["internal_name"], step("split.mid.noop")["step_type"])' \
        '["use", "split.alpha.use", "stub"]' "parallel ($mode): a branch step's name and internal name"
    assert_eq_py "$LOG" 'attempt("split.alpha.use")["output_parameters"]["n"]["value"]' '2' \
        "parallel ($mode): a branch task reads a value returned earlier in its branch"
    assert_eq_py "$LOG" '{k: v for k, v in values(step("split")["branches"]["split.alpha"]["parameters"]).items() if k in ("shared", "n", "out")}' \
        '{"shared": "alpha", "n": 2}' "parallel ($mode): branch scope holds the branch's own values, none of a sibling's"
    assert_eq_py "$LOG" 'values(step("split")["branches"]["split.zeta"]["parameters"])["shared"]' '"zeta"' \
        "parallel ($mode): zeta's scope holds its own shared"
    assert_eq_py "$LOG" 'values(doc["parameters"])' '{"seed": 7, "shared": "alpha", "out": "z-7", "n": 2}' \
        "parallel ($mode): root scope after merge (last declared branch wins)"
    settled "$LOG" "parallel ($mode)"
done
# Branches really overlapped in parallel mode: zeta (0.3 s) was still running
# when alpha started.
assert_py "$LOG" 'ts(attempt("split.alpha.set")["start_time"]) < ts(attempt("split.zeta.slow")["end_time"])' \
    "parallel (parallel): alpha started while zeta was running"

workdir parallel-fail
printf 'seed: 7\n' >p.yaml
rn execute "$C/parallel_fail.yaml" pf -p p.yaml
expect_rc 0 "parallel with a failing branch: on_failure leads to a path that succeeds"
LOG=$(log_of pf)
assert_eq_py "$LOG" '(doc["status"], statuses())' \
    '["SUCCESS", {"split": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}]' \
    "parallel with a failing branch: the step FAILs and on_failure is followed"
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("split")["branches"].items()}' \
    '{"split.bad": "FAIL", "split.good": "SUCCESS"}' "the failing branch is FAIL, the other SUCCESS"
assert_eq_py "$LOG" 'statuses(step("split")["branches"]["split.bad"]["steps"])' \
    '{"split.bad.produce": "SUCCESS", "split.bad.boom": "FAIL", "split.bad.fail": "SUCCESS"}' \
    "the failing branch went to its own fail step"
expect_file good.ran "a branch declared after the failing one still runs"
expect_no_file bad-after.ran "the failing branch stops at its failure"
expect_no_file unreachable.ran "next is not followed after a FAIL"
expect_file recovered.ran "recover saw neither branch's values (nothing merged) but the root's"
assert_eq_py "$LOG" 'values(doc["parameters"])' '{"seed": 7}' "nothing of either branch reached the root scope"
settled "$LOG" "parallel with a failing branch"

workdir parallel-fail-unguarded
printf 'seed: 7\n' >p.yaml
sed '/on_failure: recover/d' "$C/parallel_fail.yaml" >pipeline.yaml
rn execute pipeline.yaml pu -p p.yaml
expect_rc 1 "parallel with a failing branch and no on_failure: the run fails"
expect_out_re '^run pu: FAIL' "summary says FAIL"
assert_eq_py "$(log_of pu)" '(doc["status"], statuses())' '["FAIL", {"split": "FAIL", "fail": "SUCCESS"}]' \
    "the root's fail step ends the run"
settled "$(log_of pu)" "parallel without on_failure"

# ---------------------------------------------------------------- map
for mode in sequential parallel; do
    workdir "map-$mode"
    printf 'seed: 7\nitems: [2, a, {k: 1}, true]\n' >p.yaml
    cfg=()
    [ $mode = parallel ] && cfg=(-c "$PAR")
    rn execute "$C/map.yaml" m -p p.yaml "${cfg[@]}"
    expect_rc 0 "map ($mode) over items of every JSON type"
    LOG=$(log_of m)
    assert_eq_py "$LOG" 'statuses()' '{"fan": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' "map ($mode): root steps"
    assert_eq_py "$LOG" 'step("fan")["step_type"]' '"map"' "map ($mode): step type map"
    assert_eq_py "$LOG" 'sorted(step("fan")["branches"])' \
        "sorted(['fan.2', 'fan.a', \"fan.{'k': 1}\", 'fan.True'])" \
        "map ($mode): iterations named <step>.<str(item)> (Python str: 2, a, {'k': 1}, True)"
    branch_logs "$LOG" fan "map ($mode)"
    assert_py "$LOG" 'all(b["status"] == "SUCCESS" for b in step("fan")["branches"].values())' \
        "map ($mode): every iteration SUCCESS"
    assert_eq_py "$LOG" 'statuses(step("fan")["branches"]["fan.a"]["steps"])' \
        '{"fan.a.shout": "SUCCESS", "fan.a.deeper": "SUCCESS", "fan.a.success": "SUCCESS"}' \
        "map ($mode): steps of an iteration"
    assert_eq_py "$LOG" '{k: v for k, v in values(step("fan")["branches"]["fan.a"]["parameters"]).items() if k in ("seen", "loud", "deep")}' \
        '{"seen": "a", "loud": "a!", "deep": "d-a!"}' \
        "map ($mode): an iteration's scope holds its values, the nested parallel's merged in"
    assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("seed", "items")}' \
        '{"seed": 7, "items": [2, "a", {"k": 1}, True]}' "map ($mode): root values untouched by the map"
    assert_eq_py "$LOG" '[len(values(doc["parameters"])[k]) for k in ("seen", "loud", "deep")]' '[4, 4, 4]' \
        "map ($mode): one value per iteration"
    assert_eq_py "$LOG" '{k: v[:2] for k, v in values(doc["parameters"]).items() if k in ("seen", "loud", "deep")}' \
        '{"seen": [2, "a"], "loud": ["2!", "a!"], "deep": ["d-2!", "d-a!"]}' \
        "map ($mode): each returned name, at any depth of the branch, is a list in item order"
    # (how mappings and booleans reach the task: see the end of this file)
    settled "$LOG" "map ($mode)"
done
cd "$RN_TMP/map-sequential"
assert_py "$(log_of m)" "(lambda t: all(ts(t[i][1]) <= ts(t[i + 1][0]) for i in range(3)))([(attempt(n + '.shout')['start_time'], attempt(n + '.success')['end_time']) for n in ('fan.2', 'fan.a', \"fan.{'k': 1}\", 'fan.True')])" \
    "map (sequential): iterations ran one after another, in list order"

workdir map-empty
printf 'seed: 7\nitems: []\n' >p.yaml
rn execute "$C/map.yaml" me -p p.yaml
expect_rc 0 "map over an empty list succeeds"
LOG=$(log_of me)
assert_eq_py "$LOG" '(statuses(), step("fan")["branches"])' \
    '[{"fan": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}, {}]' "empty map: SUCCESS, no iteration"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("seen", "loud", "deep")}' \
    '{"seen": [], "loud": [], "deep": []}' "empty map: each returned name becomes []"
[ "$(cat seen.txt)" = '[]' ] || fail "empty map: the next task sees []" "seen.txt: $(cat seen.txt)"
pass "empty map: the next task sees []"

# One failing iteration: the others still run, the step fails, nothing is
# merged, on_failure is followed.
workdir map-iteration-fails
printf 'items: [1, 2, 3]\nbad: 2\n' >p.yaml
rn execute "$C/map_guard.yaml" mf -p p.yaml
expect_rc 0 "map with a failing iteration: on_failure leads to a path that succeeds"
LOG=$(log_of mf)
assert_eq_py "$LOG" 'statuses()' '{"fan": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}' \
    "a failing iteration fails the map step; on_failure followed"
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("fan")["branches"].items()}' \
    '{"fan.1": "SUCCESS", "fan.2": "FAIL", "fan.3": "SUCCESS"}' "only iteration 2 failed"
assert_eq_py "$LOG" 'statuses(step("fan")["branches"]["fan.2"]["steps"])' \
    '{"fan.2.work": "FAIL", "fan.2.fail": "SUCCESS"}' "the failed iteration ended in its fail step"
for i in 1 2 3; do expect_file "work-$i.ran" "iteration $i ran"; done
expect_file recovered.ran "recover ran and saw no got (nothing merged)"
assert_py "$LOG" '"got" not in doc["parameters"]' "the failed map merged nothing"
settled "$LOG" "map with a failing iteration"

# The map step fails by itself: bad iterate_on values and item names.
i=0
while IFS='|' read -r params what text; do
    i=$((i + 1))
    workdir "map-bad-$i"
    printf '%b' "$params" >p.yaml
    rn execute "$C/map_guard.yaml" mb -p p.yaml
    expect_rc 0 "map, $what: on_failure leads to a path that succeeds"
    LOG=$(log_of mb)
    assert_eq_py "$LOG" '(doc["status"], statuses())' \
        '["SUCCESS", {"fan": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}]' \
        "map, $what: the map step FAILs, on_failure followed"
    n=$(find . -maxdepth 1 -name 'work-*.ran' | wc -l)
    [ "$n" -eq 0 ] || fail "map, $what: no iteration ran" "found $n work-*.ran"
    pass "map, $what: no iteration ran"
    settled "$LOG" "map, $what"
    [ -z "$text" ] || mentioned "$text" "$LOG" fan "map, $what"
done <<'EOF'
bad: 1\n|iterate_on missing|
items: 5\n|iterate_on an integer|
items: abc\n|iterate_on a string|
items: {a: 1}\n|iterate_on a mapping|
items: [1, 1.5]\n|an item whose str() has a dot (1.5)|1.5
items: [x, a.b]\n|a string item with a dot|a.b
items: [7, "7"]\n|two items with the same str() (7 and "7")|7
items: [dup, x, dup]\n|a repeated item|dup
EOF

workdir map-bad-unguarded
printf 'bad: 1\n' >p.yaml
sed '/on_failure: recover/d' "$C/map_guard.yaml" >pipeline.yaml
rn execute pipeline.yaml mu -p p.yaml
expect_rc 1 "map with iterate_on missing and no on_failure: the run fails"
assert_eq_py "$(log_of mu)" '(doc["status"], statuses())' '["FAIL", {"fan": "FAIL", "fail": "SUCCESS"}]' \
    "the run ends in the root's fail step"
settled "$(log_of mu)" "map without on_failure"

# ---------------------------------------------------------------- reducers
workdir reducers
printf 'items: [3, 1, 2]\n' >p.yaml
rn execute "$C/reducers.yaml" red -p p.yaml
expect_rc 0 "every reducer (a task checks the values it sees)"
assert_eq_py "$(log_of red)" '{k: v for k, v in values(doc["parameters"]).items() if k.startswith("v_")}' \
    '{"v_list": [30, 10, 20], "v_first": 30, "v_last": 20, "v_min": 10, "v_max": 30, "v_sum": 60, "v_concat": [3, 3, 1, 1, 2, 2], "v_lambda": 30}' \
    "reducers: default list, first, last, min, max, sum, concat, lambda *x: max(x)"
assert_eq_py "$(log_of red)" 'statuses()["check"]' '"SUCCESS"' "reduced values reach the next task"

# ---------------------------------------------------------------- conditional
# params | branch that runs | expected picked
while IFS='|' read -r params branch want; do
    workdir "conditional-$branch-$(printf '%s' "$params" | cksum | cut -d' ' -f1)"
    printf 'seed: 7\nwant: %s\n%b' "$want" "$params" >p.yaml
    rn execute "$C/conditional.yaml" c -p p.yaml
    what="conditional, ${params%\\n}"
    expect_rc 0 "$what: branch $branch runs"
    LOG=$(log_of c)
    assert_eq_py "$LOG" 'statuses()' '{"route": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' \
        "$what: SUCCESS, and the next task sees picked=$want"
    assert_eq_py "$LOG" '(step("route")["step_type"], list(step("route")["branches"]))' \
        "['conditional', ['route.$branch']]" "$what: only branch route.$branch was run and recorded"
    branch_logs "$LOG" route "$what"
    assert_eq_py "$LOG" 'values(doc["parameters"])["picked"]' "'$want'" "$what: the branch's values merged"
done <<'EOF'
coin_side: heads\n|heads|heads
coin_side: 3\n|3|three
coin_side: "3"\n|3|three
coin_side: true\n|True|true_branch
coin_side: 2.5\n|default|default
coin_side: nothing\n|default|default
EOF
assert_eq_py "$LOG" 'statuses(step("route")["branches"]["route.default"]["steps"])' \
    '{"route.default.other": "SUCCESS", "route.default.success": "SUCCESS"}' \
    "the default branch's steps are named <step>.default.<name>"

workdir conditional-branch-fails
printf 'seed: 7\ncoin_side: broken\n' >p.yaml
rn execute "$C/conditional.yaml" cb -p p.yaml
expect_rc 0 "conditional whose branch fails: on_failure leads to a path that succeeds"
LOG=$(log_of cb)
assert_eq_py "$LOG" 'statuses()' '{"route": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}' \
    "a failing conditional branch fails the step; on_failure followed"
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("route")["branches"].items()}' '{"route.broken": "FAIL"}' \
    "the branch that ran is FAIL"
expect_file recovered.ran "recover saw no picked: the failed branch merged nothing"
assert_py "$LOG" '"picked" not in doc["parameters"]' "picked did not reach the root"
settled "$LOG" "conditional whose branch fails"

workdir conditional-missing
printf 'seed: 7\n' >p.yaml
rn execute "$C/conditional.yaml" cm -p p.yaml
expect_rc 0 "conditional with its parameter missing: on_failure followed"
assert_eq_py "$(log_of cm)" 'statuses()' '{"route": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}' \
    "a missing parameter fails the conditional step"
settled "$(log_of cm)" "conditional with its parameter missing"

workdir conditional-nomatch
printf 'coin: edge\n' >p.yaml
rn execute "$C/conditional_nodefault.yaml" cn -p p.yaml
expect_rc 1 "conditional, no match and no default: the run fails"
LOG=$(log_of cn)
assert_eq_py "$LOG" '(doc["status"], statuses())' '["FAIL", {"route": "FAIL", "fail": "SUCCESS"}]' \
    "the conditional step FAILs and the run ends in fail"
assert_eq_py "$LOG" 'step("route")["branches"]' '{}' "no branch was run"
mentioned edge "$LOG" route "conditional, no match"
expect_no_file after.ran "next is not followed"
for f in heads.ran tails.ran; do expect_no_file "$f" "no branch task ran ($f)"; done
settled "$LOG" "conditional, no match"
rn execute "$C/conditional_nodefault.yaml" cn2
expect_rc 1 "conditional, parameter missing, no on_failure: the run fails"
settled "$(log_of cn2)" "conditional, parameter missing"
printf 'coin: tails\n' >p.yaml
rn execute "$C/conditional_nodefault.yaml" ct -p p.yaml
expect_rc 0 "conditional_nodefault with a matching value succeeds"
expect_file tails.ran "the matching branch ran"

# ---------------------------------------------------------------- loop
workdir loop-break
printf 'count: 10\nstop_at: 2\nfail_at: -1\n' >p.yaml
rn execute "$C/loop.yaml" l -p p.yaml
expect_rc 0 "loop stopping on break_on"
LOG=$(log_of l)
assert_eq_py "$LOG" 'statuses()' '{"poll": "SUCCESS", "after": "SUCCESS", "success": "SUCCESS"}' "loop: root steps"
assert_eq_py "$LOG" '(step("poll")["step_type"], sorted(step("poll")["branches"]))' \
    '["loop", ["poll.0", "poll.1", "poll.2"]]' "loop: iterations poll.0, poll.1, poll.2 (stopped by finished=true)"
branch_logs "$LOG" poll "loop"
assert_eq_py "$LOG" '[attempt("poll.%d.count" % i)["output_parameters"]["count"]["value"] for i in range(3)]' \
    '[11, 12, 13]' "loop: iteration 0 starts from the root scope, each next one from the previous"
assert_eq_py "$LOG" 'statuses(step("poll")["branches"]["poll.1"]["steps"])' \
    '{"poll.1.count": "SUCCESS", "poll.1.inner": "SUCCESS", "poll.1.success": "SUCCESS"}' "loop: steps of an iteration"
assert_eq_py "$LOG" 'step("poll.2.inner.only.mark")["status"]' '"SUCCESS"' \
    "loop: a task inside a parallel inside iteration 2 (poll.2.inner.only.mark)"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("count", "finished")}' \
    '{"count": 13, "finished": True}' "loop: the last iteration's values flow out"
[ "$(tr '\n' ' ' <idx.txt)" = "0 1 2 " ] || fail "loop: \$IDX is 0, 1, 2" "idx.txt: $(cat idx.txt)"
pass "loop: index_as (\$IDX) is 0, 1, 2 for the body's tasks"
for i in 0 1 2; do expect_file "inner-$i.ran" "loop: \$IDX=$i reaches a task nested in a parallel step"; done
[ "$(cat after.txt)" = "13 true" ] || fail "loop: the next task sees the last iteration's values" "after.txt: $(cat after.txt)"
pass "loop: the next task sees count=13 finished=true"
settled "$LOG" "loop"

workdir loop-max
printf 'count: 10\nstop_at: 99\nfail_at: -1\n' >p.yaml
rn execute "$C/loop.yaml" lm -p p.yaml
expect_rc 0 "loop reaching max_iterations succeeds"
LOG=$(log_of lm)
assert_eq_py "$LOG" '(step("poll")["status"], sorted(step("poll")["branches"]))' \
    '["SUCCESS", ["poll.0", "poll.1", "poll.2", "poll.3", "poll.4"]]' "loop: exactly max_iterations (5) iterations, SUCCESS"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("count", "finished")}' \
    '{"count": 15, "finished": False}' "loop: the fifth iteration's values flow out"

workdir loop-fails
printf 'count: 10\nstop_at: 99\nfail_at: 1\n' >p.yaml
rn execute "$C/loop.yaml" lf -p p.yaml
expect_rc 1 "loop with a failing iteration: recover leads to fail"
LOG=$(log_of lf)
assert_eq_py "$LOG" '(doc["status"], statuses())' \
    '["FAIL", {"poll": "FAIL", "recover": "SUCCESS", "fail": "SUCCESS"}]' "a failed iteration fails the loop; on_failure followed"
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("poll")["branches"].items()}' \
    '{"poll.0": "SUCCESS", "poll.1": "FAIL"}' "no iteration after the failed one"
assert_eq_py "$LOG" 'step("poll.1.inner")["status"]' '"FAIL"' "the nested parallel failed in iteration 1"
[ "$(tr '\n' ' ' <idx.txt)" = "0 1 " ] || fail "loop: iterations 0 and 1 only" "idx.txt: $(cat idx.txt)"
pass "loop: iterations 0 and 1 only"
[ "$(cat recover.txt)" = 10 ] || fail "a failed loop leaves the parent scope unchanged" "recover saw count=$(cat recover.txt)"
pass "a failed loop leaves the parent scope unchanged (recover sees count=10)"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("count", "finished")}' \
    '{"count": 10}' "root scope: count still 10, no finished"
settled "$LOG" "loop with a failing iteration"

# ---------------------------------------------------------------- nesting
workdir nested
# The root's cols is shadowed inside m1's iterations by the cols they return.
printf 'seed: 7\nfail_at: none\ncols: [zz]\n' >p.yaml
rn execute "$C/nested.yaml" n -p p.yaml
expect_rc 0 "a map inside a map inside a parallel branch"
LOG=$(log_of n)
assert_eq_py "$LOG" 'statuses()' '{"outer": "SUCCESS", "done": "SUCCESS", "success": "SUCCESS"}' "nested: root steps"
assert_eq_py "$LOG" 'sorted(step("outer.left.m1")["branches"])' '["outer.left.m1.1", "outer.left.m1.2"]' \
    "nested: m1 iterates over rows returned inside the branch"
assert_eq_py "$LOG" 'sorted(step("outer.left.m1.2.m2")["branches"])' '["outer.left.m1.2.m2.a2", "outer.left.m1.2.m2.b2"]' \
    "nested: m2 iterates over the cols of its own iteration of m1, not the root's"
assert_eq_py "$LOG" 'attempt("outer.left.m1.2.m2.b2.cell")["output_parameters"]["cell"]["value"]' '"2-b2"' \
    "nested: the innermost task outer.left.m1.2.m2.b2.cell saw r=2, c=b2"
assert_eq_py "$LOG" 'statuses(step("outer.left.m1.1.m2")["branches"]["outer.left.m1.1.m2.a1"]["steps"])' \
    '{"outer.left.m1.1.m2.a1.cell": "SUCCESS", "outer.left.m1.1.m2.a1.success": "SUCCESS"}' "nested: five-level internal names"
branch_logs "$LOG" outer.left.m1.1.m2 "nested"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k != "fail_at"}' \
    '{"seed": 7, "rows": [1, 2], "cols": [["a1", "b1"], ["a2", "b2"]], "cell": [["1-a1", "1-b1"], ["2-a2", "2-b2"]], "side": 1}' \
    "nested: lists of lists flow up through both maps and the parallel"
assert_eq_py "$LOG" 'values(step("outer.left.m1")["branches"]["outer.left.m1.2"]["parameters"])["cell"]' \
    '["2-a2", "2-b2"]' "nested: m2's list lands in its iteration of m1"
for f in cell-1-a1 cell-1-b1 cell-2-a2 cell-2-b2 side done; do expect_file "$f.ran" "nested: $f ran"; done
settled "$LOG" "nested"

# fail_at | statuses of outer.left.m1's branches (None: m1 did not run) |
# notes written | cells that ran
while IFS='|' read -r at m1 noted cells; do
    workdir "nested-fail-$at"
    printf 'seed: 7\nfail_at: %s\n' "$at" >p.yaml
    rn execute "$C/nested.yaml" nf -p p.yaml
    what="nested, failure at $at"
    expect_rc 1 "$what: recover leads to fail"
    LOG=$(log_of nf)
    assert_eq_py "$LOG" '(doc["status"], statuses())' \
        '["FAIL", {"outer": "FAIL", "recover": "SUCCESS", "fail": "SUCCESS"}]' "$what: outer FAILs, its on_failure followed"
    assert_eq_py "$LOG" '{k: b["status"] for k, b in step("outer")["branches"].items()}' \
        '{"outer.left": "FAIL", "outer.right": "SUCCESS"}' "$what: left FAIL, right SUCCESS"
    assert_eq_py "$LOG" 'statuses(step("outer")["branches"]["outer.left"]["steps"]).get("outer.left.fail")' \
        '"SUCCESS"' "$what: left ended in its fail step"
    assert_eq_py "$LOG" '{k: b["status"] for k, b in step("outer.left.m1")["branches"].items()} if "outer.left.m1" in step("outer")["branches"]["outer.left"]["steps"] else None' \
        "$m1" "$what: m1's iterations"
    expect_file recovered.ran "$what: recover saw none of the branch values (nothing merged)"
    assert_eq_py "$LOG" 'sorted(values(doc["parameters"]))' '["fail_at", "seed"]' "$what: the root scope is unchanged"
    got=$(find . -maxdepth 1 -name 'noted-*.ran' | sed 's,^\./,,' | sort | tr '\n' ' ')
    [ "$got" = "$noted" ] || fail "$what: m2's on_failure followed where m2 failed" "expected '$noted', got '$got'"
    pass "$what: m2's on_failure (note) followed only where m2 failed: '${noted% }'"
    got=$(find . -maxdepth 1 -name 'cell-*.ran' | sed 's,^\./,,' | sort | tr '\n' ' ')
    [ "$got" = "$cells" ] || fail "$what: the other iterations ran" "expected '$cells', got '$got'"
    pass "$what: every other iteration ran"
    expect_file side.ran "$what: the sibling branch ran"
    expect_no_file done.ran "$what: outer's next not followed"
    settled "$LOG" "$what"
done <<'EOF'
mk|None||
mkcols-1|{"outer.left.m1.1": "FAIL", "outer.left.m1.2": "SUCCESS"}||cell-2-a2.ran cell-2-b2.ran 
cell-b2|{"outer.left.m1.1": "SUCCESS", "outer.left.m1.2": "FAIL"}|noted-2.ran |cell-1-a1.ran cell-1-b1.ran cell-2-a2.ran 
EOF
assert_eq_py "$LOG" '{k: b["status"] for k, b in step("outer.left.m1.2.m2")["branches"].items()}' \
    '{"outer.left.m1.2.m2.a2": "SUCCESS", "outer.left.m1.2.m2.b2": "FAIL"}' "failure at depth 3: only that iteration of m2 failed"
assert_eq_py "$LOG" 'statuses(step("outer.left.m1")["branches"]["outer.left.m1.2"]["steps"])' \
    '{"outer.left.m1.2.mkcols": "SUCCESS", "outer.left.m1.2.m2": "FAIL", "outer.left.m1.2.note": "SUCCESS", "outer.left.m1.2.fail": "SUCCESS"}' \
    "failure at depth 3: m2 FAIL, its on_failure note ran, then the branch's fail step"

workdir loop-map
rn execute "$C/loop_map.yaml" lmap
expect_rc 0 "a loop containing a map over a list the body returns"
LOG=$(log_of lmap)
assert_eq_py "$LOG" 'sorted(step("poll")["branches"])' '["poll.0", "poll.1", "poll.2"]' "loop-map: three iterations"
assert_eq_py "$LOG" 'sorted(step("poll.2.each")["branches"])' '["poll.2.each.0", "poll.2.each.1", "poll.2.each.2"]' \
    "loop-map: the map in iteration 2 iterates over that iteration's items"
assert_eq_py "$LOG" 'attempt("poll.1.each.1.sq")["output_parameters"]["sq"]["value"]' '1' "loop-map: poll.1.each.1.sq"
got=$(find . -maxdepth 1 -name 'sq-*.ran' | sed 's,^\./,,' | sort | tr '\n' ' ')
[ "$got" = "sq-0-0.ran sq-1-0.ran sq-1-1.ran sq-2-0.ran sq-2-1.ran sq-2-2.ran " ] ||
    fail "loop-map: \$IDX reaches the map's tasks" "got: $got"
pass "loop-map: \$IDX reaches the tasks of a map inside the loop"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items()}' \
    '{"items": [0, 1, 2], "finished": True, "sq": [0, 1, 4]}' "loop-map: the last iteration's map result flows out"
assert_eq_py "$LOG" 'statuses()' '{"poll": "SUCCESS", "check": "SUCCESS", "success": "SUCCESS"}' "loop-map: the next task sees them"

workdir cond-in-map
# The root's side is shadowed by the side each iteration returns.
printf 'items: [heads, tails, edge]\nside: heads\n' >p.yaml
rn execute "$C/cond_in_map.yaml" cim -p p.yaml
expect_rc 0 "a conditional inside a map, on a value returned in the iteration"
LOG=$(log_of cim)
assert_eq_py "$LOG" '[list(step("fan.%s.route" % i)["branches"]) for i in ("heads", "tails", "edge")]' \
    '[["fan.heads.route.heads"], ["fan.tails.route.tails"], ["fan.edge.route.default"]]' \
    "cond-in-map: each iteration took its own branch (read from the iteration, not the root; edge: default)"
assert_eq_py "$LOG" 'step("fan.edge.route.default.d")["status"]' '"SUCCESS"' "cond-in-map: fan.edge.route.default.d"
assert_eq_py "$LOG" 'values(doc["parameters"])["res"]' '["H", "T", "D"]' \
    "cond-in-map: res, returned inside the conditional, is listed by the map"

workdir parallel-in-loop
printf 'trail: x\nbtrail: y\n' >p.yaml
rn execute "$C/parallel_in_loop.yaml" pil -p p.yaml
expect_rc 0 "a parallel inside a loop, carrying values from iteration to iteration"
LOG=$(log_of pil)
assert_eq_py "$LOG" 'sorted(step("poll")["branches"])' '["poll.0", "poll.1", "poll.2"]' \
    "parallel-in-loop: three iterations (break_on never returned)"
assert_eq_py "$LOG" 'attempt("poll.1.split.b.tb")["output_parameters"]["btrail"]["value"]' '"yb0b1"' \
    "parallel-in-loop: poll.1.split.b.tb saw iteration 0's value and \$IDX=1"
assert_eq_py "$LOG" '{k: v for k, v in values(doc["parameters"]).items() if k in ("trail", "btrail")}' \
    '{"trail": "xa0a1a2", "btrail": "yb0b1b2"}' "parallel-in-loop: values carried through the iterations"

# ---------------------------------------------------------------- item encodings
# In a shell task's environment a map item is Python's str() of the item
# (spec/pipeline-format.md §3.3: 2, a, {'k': 1}, True), as in runnable; the
# run log and the merged lists keep the JSON types.
for mode in sequential parallel; do
    cd "$RN_TMP/map-$mode"
    RN_LAST_CMD="(map run of the map ($mode) section, in this folder)"
    : >"$OUT"; : >"$ERR"
    LOG=$(log_of m)
    assert_eq_py "$LOG" "[attempt(n)['output_parameters']['seen']['value'] for n in ('fan.2.shout', 'fan.a.shout', \"fan.{'k': 1}.shout\")]" \
        "[2, 'a', \"{'k': 1}\"]" "map ($mode): the task saw each item as Python's str(): 2, a, {'k': 1}"
    assert_eq_py "$LOG" '{k: v[:3] for k, v in values(doc["parameters"]).items() if k in ("seen", "loud", "deep")}' \
        "{'seen': [2, 'a', \"{'k': 1}\"], 'loud': ['2!', 'a!', \"{'k': 1}!\"], 'deep': ['d-2!', 'd-a!', \"d-{'k': 1}!\"]}" \
        "map ($mode): a mapping item reaches the tasks, also the nested one, as str()"
    assert_eq_py "$LOG" '(attempt("fan.True.shout")["output_parameters"]["seen"]["value"], attempt("fan.True.deeper.only.inner")["output_parameters"]["deep"]["value"])' \
        '["True", "d-True!"]' "map ($mode): the item true is True for the task, also in the nested parallel"
    [ "$(cat seen.txt)" = "[2, \"a\", \"{'k': 1}\", \"True\"]" ] ||
        fail "map ($mode): the next task sees the merged list as JSON" "seen.txt: $(cat seen.txt)"
    pass "map ($mode): the next task sees the merged list as JSON"
done

done_testing
