#!/bin/bash
# Concurrency end to end (docs/composites.md): with enable_parallel,
# independent branches and iterations really run at the same time, never
# more than max_parallel task processes at once (across nested composites
# too; the CPU count by default); without it, one after another in
# declaration order.  Large and nested runs are complete and consistent in
# the buffered, file-system and chunked-fs run-log stores.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites

now() { date +%s.%N; }
# elapsed T0: seconds since T0, 3 decimals.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# cmp_num A OP B: awk comparison of two numbers.
cmp_num() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }

# ---------------------------------------------------------------- 4 x sleep 1
workdir four-wide
t0=$(now)
rn execute "$C/sleep4.yaml" w4 -c "$C/parallel.config.yaml"
secs=$(elapsed "$t0")
expect_rc 0 "4 branches of 1 s, max_parallel 4"
cmp_num "$secs" '<' 2.5 || fail "max_parallel 4: 4 branches of 1 s take well under 4 s" "took $secs s"
pass "max_parallel 4: 4 branches of 1 s took $secs s (< 2.5 s)"
assert_py .run_log_store/w4.json \
    'max(ts(attempt("split.%s.nap" % b)["start_time"]) for b in "dbac") < min(ts(attempt("split.%s.nap" % b)["end_time"]) for b in "dbac")' \
    "max_parallel 4: all four tasks were running at the same moment"

workdir one-wide
t0=$(now)
rn execute "$C/sleep4.yaml" w1 -c "$C/max1.config.yaml"
secs=$(elapsed "$t0")
expect_rc 0 "4 branches of 1 s, max_parallel 1"
cmp_num "$secs" '>=' 4 || fail "max_parallel 1: one at a time, at least 4 s" "took $secs s"
pass "max_parallel 1: took $secs s (>= 4 s)"
assert_py .run_log_store/w1.json \
    '(lambda t: all(ts(t[i][1]) <= ts(t[i + 1][0]) for i in range(3)))(sorted((attempt("split.%s.nap" % b)["start_time"], attempt("split.%s.nap" % b)["end_time"]) for b in "dbac"))' \
    "max_parallel 1: no two tasks overlapped"

workdir sequential
t0=$(now)
rn execute "$C/sleep4.yaml" ws
secs=$(elapsed "$t0")
expect_rc 0 "4 branches of 1 s without enable_parallel"
cmp_num "$secs" '>=' 4 || fail "without enable_parallel: one after another, at least 4 s" "took $secs s"
pass "without enable_parallel: took $secs s (>= 4 s)"
[ "$(tr '\n' ' ' <order.txt)" = "d b a c " ] ||
    fail "without enable_parallel: branches run in declaration order" "order.txt: $(tr '\n' ' ' <order.txt)"
pass "without enable_parallel: branches ran in declaration order (d b a c)"
assert_py .run_log_store/ws.json \
    '(lambda t: all(ts(t[i][1]) <= ts(t[i + 1][0]) for i in range(3)))([(attempt("split.%s.nap" % b)["start_time"], attempt("split.%s.nap" % b)["end_time"]) for b in "dbac"])' \
    "without enable_parallel: each branch started after the previous one ended"

# ---------------------------------------------------------------- bounded
# max_alive WHAT LIMIT [LEAST]: the sibling counts the tasks wrote never
# exceed LIMIT (and reach LEAST, showing tasks did run side by side).
max_alive() {
    local what=$1 limit=$2 least=${3:-} n max
    n=$(wc -l <counts.txt)
    max=$(sort -n counts.txt | tail -n 1)
    [ "$max" -le "$limit" ] || fail "$what: never more than $limit tasks alive" "a task saw $max alive: $(sort -n counts.txt | uniq -c | tr '\n' ' ')"
    pass "$what: never more than $limit tasks alive (at most $max seen, $n tasks)"
    if [ -n "$least" ]; then
        [ "$max" -ge "$least" ] || fail "$what: tasks ran side by side" "at most $max alive"
        pass "$what: tasks ran side by side ($max at once)"
    fi
    [ -z "$(ls -A alive)" ] || fail "$what: every task ended" "left: $(ls -A alive | tr '\n' ' ')"
}

workdir bounded
mkdir alive
$PY -c 'print("items: %s" % list(range(20)))' >p.yaml
rn execute "$C/bounded.yaml" b -p p.yaml -c "$C/max3.config.yaml"
expect_rc 0 "20-item map, max_parallel 3"
[ "$(wc -l <counts.txt)" -eq 20 ] || fail "20-item map: 20 tasks ran" "$(wc -l <counts.txt) counts"
max_alive "20-item map, max_parallel 3" 3 2
assert_eq_py .run_log_store/b.json '(step("fan")["status"], len(step("fan")["branches"]))' '["SUCCESS", 20]' \
    "20-item map: 20 iterations, SUCCESS"

workdir bounded-nested
mkdir alive
$PY -c 'print("items: %s" % list(range(12)))' >p.yaml
rn execute "$C/bounded_nested.yaml" bn -p p.yaml -c "$C/max3.config.yaml"
expect_rc 0 "two 12-item maps side by side, max_parallel 3"
[ "$(wc -l <counts.txt)" -eq 24 ] || fail "two 12-item maps: 24 tasks ran" "$(wc -l <counts.txt) counts"
max_alive "two maps in a parallel step, max_parallel 3" 3 2

workdir bounded-cpus
mkdir alive
ncpu=$(nproc 2>/dev/null || echo 1)
n2=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
[ "$n2" -gt "$ncpu" ] && ncpu=$n2
$PY -c 'print("items: %s" % list(range(4 * '"$ncpu"')))' >p.yaml
rn execute "$C/bounded.yaml" bc -p p.yaml -c "$C/cpus.config.yaml"
expect_rc 0 "map with enable_parallel and no max_parallel"
if [ "$ncpu" -ge 2 ]; then
    max_alive "no max_parallel: the CPU count ($ncpu)" "$ncpu" 2
else
    max_alive "no max_parallel: the CPU count ($ncpu)" "$ncpu"
fi

# ---------------------------------------------------------------- stores
# normalize IN OUT: the run log without what legitimately differs between
# stores (times, run_config), keys sorted; reassembles a chunked-fs folder
# first (run-log.md §6.2: branch B goes into step B minus its last segment,
# found in the branch that step belongs to, or at the root).
cat >"$RN_OUT/normalize.py" <<'PYEOF'
import json, os, sys

def load(path):
    if not os.path.isdir(path):
        with open(path) as f:
            return json.load(f)
    with open(os.path.join(path, "RunLog.json")) as f:
        doc = json.load(f)
    branches = {}
    for name in os.listdir(path):
        if name.startswith("BranchLog-"):
            with open(os.path.join(path, name)) as f:
                b = json.load(f)
            branches[b["internal_name"]] = b
    for bname, b in branches.items():
        step_name = bname.rsplit(".", 1)[0]
        parent = step_name.rsplit(".", 1)[0] if "." in step_name else None
        holder = branches[parent]["steps"] if parent in branches else doc["steps"]
        holder[step_name]["branches"][bname] = b
    return doc

def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("start_time", "end_time", "resources")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x

doc = load(sys.argv[1])
doc.pop("run_config", None)
with open(sys.argv[2], "w") as f:
    json.dump(strip(doc), f, sort_keys=True, indent=1)
PYEOF

# The same pipeline in each store; file-system and chunked-fs must hold the
# same document.
# store_run STORE PIPELINE RUN_ID PARAMS: run in a fresh folder <id>-<store>.
store_run() {
    local store=$1 pipeline=$2 id=$3 params=$4
    workdir "$id-$store"
    printf '%b' "$params" >p.yaml
    rn execute "$pipeline" "$id" -p p.yaml -c "$C/store-$store.config.yaml"
}

t_wide=$(now)
ITEMS=$($PY -c 'print("items: %s" % list(range(2000)))')

store_run buffered "$C/wide.yaml" wide "$ITEMS\n"
expect_rc 0 "2,000-iteration map, buffered store"
expect_out_re '^run wide: SUCCESS .*[( ]0 failed' "buffered: summary SUCCESS, 0 failed"
expect_no_file .run_log_store "buffered: nothing on disk"

store_run file-system "$C/wide.yaml" wide "$ITEMS\n"
expect_rc 0 "2,000-iteration map, file-system store"
LOG=.run_log_store/wide.json
assert_eq_py "$LOG" '(doc["status"], statuses())' '["SUCCESS", {"fan": "SUCCESS", "success": "SUCCESS"}]' \
    "file-system: run and root steps SUCCESS"
assert_eq_py "$LOG" 'sorted(step("fan")["branches"]) == sorted("fan.%d" % i for i in range(2000))' 'True' \
    "file-system: 2,000 branches fan.0 ... fan.1999"
assert_py "$LOG" 'all(b["status"] == "SUCCESS" and statuses(b["steps"]) == {k + ".t": "SUCCESS", k + ".success": "SUCCESS"} for k, b in step("fan")["branches"].items())' \
    "file-system: every branch SUCCESS with its task and success step SUCCESS"
assert_py "$LOG" 'all(len(s["attempts"]) == 1 for b in step("fan")["branches"].values() for s in b["steps"].values())' \
    "file-system: one attempt per step"
$PY "$RN_OUT/normalize.py" "$LOG" "$RN_OUT/wide-fs.json" >"$RN_OUT/normalize.err" 2>&1 ||
    fail "read the run log $LOG" "$(tail -n 5 "$RN_OUT/normalize.err")"

store_run chunked-fs "$C/wide.yaml" wide "$ITEMS\n"
expect_rc 0 "2,000-iteration map, chunked-fs store"
n=$(find .run_log_store/wide -name 'BranchLog-*.json' | wc -l)
[ "$n" -eq 2000 ] || fail "chunked-fs: one BranchLog file per iteration" "found $n"
pass "chunked-fs: 2,000 BranchLog files"
# .lock: the writers' lock file; .RunLog.json.layout: the layout cache of
# the large RunLog.json (docs/run-log-layout.md); no shadow or spare.
[ "$(find .run_log_store/wide -type f ! -name .lock ! -name .RunLog.json.layout | wc -l)" -eq 2001 ] ||
    fail "chunked-fs: RunLog.json and the branch files, nothing else" "$(find .run_log_store/wide -type f | wc -l) files"
pass "chunked-fs: RunLog.json, the branch files and .lock, nothing else"
assert_eq_py .run_log_store/wide/RunLog.json '(doc["status"], statuses(), step("fan")["branches"])' \
    '["SUCCESS", {"fan": "SUCCESS", "success": "SUCCESS"}, {}]' "chunked-fs: RunLog.json holds the root, fan without its branches"
assert_eq_py ".run_log_store/wide/BranchLog-fan.1234.json" '(doc["internal_name"], doc["status"], sorted(doc["steps"]))' \
    '["fan.1234", "SUCCESS", ["fan.1234.success", "fan.1234.t"]]' "chunked-fs: BranchLog-fan.1234.json holds that iteration"
$PY "$RN_OUT/normalize.py" .run_log_store/wide "$RN_OUT/wide-chunked.json" >"$RN_OUT/normalize.err" 2>&1 ||
    fail "read the run log .run_log_store/wide" "$(tail -n 5 "$RN_OUT/normalize.err")"
cmp -s "$RN_OUT/wide-fs.json" "$RN_OUT/wide-chunked.json" ||
    fail "chunked-fs reassembled equals the file-system run log (times and run_config aside)" \
        "$(diff "$RN_OUT/wide-fs.json" "$RN_OUT/wide-chunked.json" | head -n 20)"
pass "chunked-fs reassembled equals the file-system run log (times and run_config aside)"
secs=$(elapsed "$t_wide")
echo "# the three 2,000-iteration runs took $secs s"

# Nested composites run in parallel, in every store.
for store in buffered file-system chunked-fs; do
    store_run "$store" "$C/nested.yaml" nested 'seed: 7\nfail_at: none\n'
    expect_rc 0 "nested composites in parallel, $store store"
    expect_out_re '^run nested: SUCCESS' "$store: summary SUCCESS"
    for f in cell-1-a1 cell-1-b1 cell-2-a2 cell-2-b2 side done; do
        [ -e "$f.ran" ] || fail "$store: $f ran"
    done
    pass "$store: every task ran"
done
cd "$RN_TMP/nested-file-system"
assert_eq_py .run_log_store/nested.json 'values(doc["parameters"])["cell"]' '[["1-a1", "1-b1"], ["2-a2", "2-b2"]]' \
    "file-system: iteration order kept when iterations run side by side"
$PY "$RN_OUT/normalize.py" .run_log_store/nested.json "$RN_OUT/nested-fs.json" >"$RN_OUT/normalize.err" 2>&1 ||
    fail "read the run log .run_log_store/nested.json" "$(tail -n 5 "$RN_OUT/normalize.err")"
cd "$RN_TMP/nested-chunked-fs"
for b in outer.left outer.right outer.left.m1.1 outer.left.m1.2 outer.left.m1.1.m2.a1 outer.left.m1.2.m2.b2; do
    expect_file ".run_log_store/nested/BranchLog-$b.json" "chunked-fs: BranchLog-$b.json"
done
[ "$(find .run_log_store/nested -name 'BranchLog-*' | wc -l)" -eq 8 ] ||
    fail "chunked-fs: one file per branch at any depth (8)" "$(ls .run_log_store/nested | tr '\n' ' ')"
pass "chunked-fs: one file per branch at any depth (8)"
assert_eq_py .run_log_store/nested/BranchLog-outer.left.json 'step("outer.left.m1")["branches"]' '{}' \
    "chunked-fs: a composite inside a branch file is stored without its branches"
$PY "$RN_OUT/normalize.py" .run_log_store/nested "$RN_OUT/nested-chunked.json" >"$RN_OUT/normalize.err" 2>&1 ||
    fail "read the run log .run_log_store/nested" "$(tail -n 5 "$RN_OUT/normalize.err")"
cmp -s "$RN_OUT/nested-fs.json" "$RN_OUT/nested-chunked.json" ||
    fail "chunked-fs reassembled equals file-system for nested composites" \
        "$(diff "$RN_OUT/nested-fs.json" "$RN_OUT/nested-chunked.json" | head -n 20)"
pass "chunked-fs reassembled equals file-system for nested composites (times and run_config aside)"

done_testing
