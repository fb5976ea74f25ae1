#!/bin/bash
# runnable visualize: the levelled text of chains, DAG graphs and every
# composite (nested three deep), Graphviz and Mermaid output checked for
# shape and, where Graphviz is installed, by `dot` itself; bad input and a
# bad --format exit 2; nothing is written; no config or plugin is needed.
. "$(dirname "$0")/lib.sh"

V=$FIXTURES/visualize
HAVE_DOT=0
if command -v dot >/dev/null 2>&1; then
    HAVE_DOT=1
else
    echo "# dot (graphviz) not found: DOT output is checked for shape only"
fi

# expect_stdout WHAT <<EOF ... EOF: stdout is exactly the text given.
expect_stdout() {
    local want=$RN_OUT/want
    cat >"$want"
    cmp -s "$want" "$OUT" ||
        fail "$1" "stdout differs from the expected text (--- expected, +++ got):" \
            "$(diff -u "$want" "$OUT" | tail -n +3 | head -n 80)"
    pass "$1"
}

# The shape of DOT and Mermaid output: every line is a statement of a
# known form, ids are unique (Mermaid's also [A-Za-z0-9_] only), every
# edge joins declared nodes, clusters/subgraphs are balanced.
cat >"$RN_OUT/shape.py" <<'PYEOF'
import re, sys

fmt, path = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().split("\n")
errors = []
if lines[-1] != "":
    errors.append("output does not end with a newline")
lines = lines[:-1]

def err(n, msg):
    errors.append("line %d: %s: %s" % (n + 1, msg, lines[n] if n < len(lines) else ""))

if fmt == "dot":
    Q = r'"((?:[^"\\\n]|\\.)*)"'
    nodes, clusters, edges, depth = set(), set(), [], 0
    if lines[:3] != ["digraph pipeline {", "  compound=true;",
                     "  node [shape=box, style=rounded];"]:
        errors.append("unexpected header: %r" % lines[:3])
    for n, line in enumerate(lines[3:], 3):
        s = line.strip()
        if m := re.fullmatch(Q + " -> " + Q + r"( \[(.*)\])?;", s):
            edges.append((n, m.group(1), m.group(2), m.group(4) or ""))
        elif m := re.fullmatch(Q + r" \[(.*)\];", s):
            if m.group(1) in nodes:
                err(n, "node declared twice")
            nodes.add(m.group(1))
        elif m := re.fullmatch("subgraph " + Q + " {", s):
            if not m.group(1).startswith("cluster_") or m.group(1) in clusters:
                err(n, "cluster id not cluster_... or not unique")
            clusters.add(m.group(1))
            depth += 1
        elif re.fullmatch("label=" + Q + ";", s):
            pass
        elif s == "}":
            depth -= 1
        else:
            err(n, "not a DOT statement of a known form")
    if depth != -1:
        errors.append("unbalanced braces")
    for n, a, b, attrs in edges:
        for end in (a, b):
            if end not in nodes:
                err(n, "edge end %r is not a declared node" % end)
        for key in re.findall(r'l(?:tail|head)="((?:[^"\\]|\\.)*)"', attrs):
            if key not in clusters:
                err(n, "edge names cluster %r, which does not exist" % key)
else:
    ID = r"([A-Za-z0-9_]+)"
    LABEL = r'"[^"\n]*"'
    SHAPES = [(r"\[", r"\]"), (r"\(\[", r"\]\)"), (r"\(\(", r"\)\)"), (r"\[/", r"\\\]"),
              (r"\[\[", r"\]\]"), (r"\{", r"\}"), (r"\{\{", r"\}\}")]
    ids, nodes, edges, opened = set(), set(), [], 0
    if lines[0] != "flowchart TD":
        errors.append("first line is not 'flowchart TD'")
    for n, line in enumerate(lines[1:], 1):
        s = line.strip()
        m = None
        for o, c in SHAPES:
            m = m or re.fullmatch(ID + o + LABEL + c, s)
        if m:
            if m.group(1) in ids:
                err(n, "id not unique")
            ids.add(m.group(1))
            nodes.add(m.group(1))
        elif m := re.fullmatch("subgraph " + ID + r" \[" + LABEL + r"\]", s):
            if m.group(1) in ids:
                err(n, "id not unique")
            ids.add(m.group(1))
            opened += 1
        elif s == "end":
            opened -= 1
        elif m := re.fullmatch(ID + r" (-->|-\.->|-\. on failure \.->) " + ID, s):
            edges.append((n, m.group(1), m.group(3)))
        elif m := re.fullmatch("class " + ID + " rn_(success|fail)", s):
            edges.append((n, m.group(1), m.group(1)))
        elif not re.fullmatch(r"classDef rn_(success|fail) .*", s):
            err(n, "not a Mermaid statement of a known form")
    if opened:
        errors.append("%d subgraph(s) without end" % opened)
    for n, a, b in edges:
        for end in (a, b):
            if end not in nodes:
                err(n, "%r is not a declared node" % end)
print("\n".join(errors[:20]))
sys.exit(1 if errors else 0)
PYEOF

# check_shape FORMAT WHAT: stdout is well-formed FORMAT output; for dot,
# Graphviz (when installed) reads it without a word on stderr.
check_shape() {
    local got=$RN_OUT/shape.$1 msg
    cp "$OUT" "$got"
    msg=$("$PY" "$RN_OUT/shape.py" "$1" "$got") || fail "$2: well-formed $1" "$msg"
    pass "$2: well-formed $1"
    if [ "$1" = dot ] && [ "$HAVE_DOT" = 1 ]; then
        dot -Tsvg "$got" >/dev/null 2>"$RN_OUT/dot.err" ||
            fail "$2: dot -Tsvg accepts it" "$(cat "$RN_OUT/dot.err")"
        [ ! -s "$RN_OUT/dot.err" ] || fail "$2: dot -Tsvg without warnings" "$(cat "$RN_OUT/dot.err")"
        pass "$2: dot -Tsvg accepts it"
    fi
}

# expect_empty_folder WHAT [FILE]: visualize wrote nothing in the work
# folder, which holds FILE (put there by the test) or nothing.
expect_empty_folder() {
    [ "$(ls -A)" = "${2-}" ] || fail "$1: nothing written" "found: $(ls -A | tr '\n' ' ')"
    pass "$1: nothing written"
}

# ---------------------------------------------------------------- chain
workdir chain
# No configuration and no plugin is needed to draw a pipeline.
RUNNABLE_PLUGIN_PATH=/nonexistent rn visualize "$V/chain.yaml"
expect_rc 0 "chain: visualize without any plugin"
expect_stdout "chain: levels, on_failure edge, stub and unreachable steps marked" <<'EOF'
level 0:
  prepare [stub]
  cleanup [stub] (unreachable)
level 1:
  train <- prepare
level 2:
  evaluate <- train
  fail_handler <- train (on failure)
level 3:
  success [success] <- evaluate, cleanup
  fail [fail] <- fail_handler
EOF
[ ! -s "$ERR" ] || fail "chain: nothing on stderr"
pass "chain: nothing on stderr"
expect_empty_folder "chain"

rn visualize --format dot "$V/chain.yaml"
expect_rc 0 "chain: --format dot"
expect_stdout "chain: DOT text" <<'EOF'
digraph pipeline {
  compound=true;
  node [shape=box, style=rounded];
  "prepare" [label="prepare [stub]", style="rounded,dashed"];
  "train" [label="train"];
  "evaluate" [label="evaluate"];
  "fail_handler" [label="fail_handler"];
  "cleanup" [label="cleanup [stub] (unreachable)", style="rounded,dashed"];
  "success" [label="success [success]", shape=ellipse, style=filled, fillcolor=palegreen];
  "fail" [label="fail [fail]", shape=ellipse, style=filled, fillcolor=lightpink];
  "prepare" -> "train";
  "train" -> "evaluate";
  "train" -> "fail_handler" [style=dashed, label="on failure"];
  "evaluate" -> "success";
  "fail_handler" -> "fail";
  "cleanup" -> "success";
}
EOF
check_shape dot "chain"

rn visualize -F mermaid "$V/chain.yaml"
expect_rc 0 "chain: -F mermaid"
expect_stdout "chain: Mermaid text" <<'EOF'
flowchart TD
  classDef rn_success fill:#d7f5d7,stroke:#2e7d32
  classDef rn_fail fill:#f9d6d6,stroke:#c62828
  n0_prepare(["prepare [stub]"])
  n1_train["train"]
  n2_evaluate["evaluate"]
  n3_fail_handler["fail_handler"]
  n4_cleanup(["cleanup [stub] (unreachable)"])
  n5_success(("success [success]"))
  n6_fail(("fail [fail]"))
  class n5_success rn_success
  class n6_fail rn_fail
  n0_prepare --> n1_train
  n1_train --> n2_evaluate
  n1_train -. on failure .-> n3_fail_handler
  n2_evaluate --> n5_success
  n3_fail_handler --> n6_fail
  n4_cleanup --> n5_success
EOF
check_shape mermaid "chain"
expect_empty_folder "chain, every format"

# ---------------------------------------------------------------- diamond
workdir diamond
rn visualize -f "$V/diamond.yaml" --format text
expect_rc 0 "diamond: -f FILE --format text"
expect_stdout "diamond: depends_on levels; success waits for the sinks" <<'EOF'
level 0:
  extract [stub]
  lint [stub]
level 1:
  left <- extract
  right <- extract
level 2:
  join <- left, right
level 3:
  success [success] <- join, lint
EOF
rn visualize --format=dot "$V/diamond.yaml"
expect_rc 0 "diamond: --format=dot"
expect_out_has '"left" -> "join";' "diamond: depends_on edge left -> join"
expect_out_has '"lint" -> "success" [style=dotted];' "diamond: implicit edge from a sink to success"
check_shape dot "diamond"
rn visualize --format mermaid "$V/diamond.yaml"
expect_rc 0 "diamond: --format mermaid"
expect_out_has 'n0_extract --> n1_left' "diamond: Mermaid depends_on edge"
check_shape mermaid "diamond"

# ---------------------------------------------------------------- composites
workdir composites
rn visualize "$V/composites.yaml"
expect_rc 0 "composites: every composite type"
expect_stdout "composites: branches nested under their steps, headers say how they run" <<'EOF'
level 0:
  fan out [parallel]
    branch left:
      level 0:
        a [stub]
      level 1:
        success [success] <- a
    branch right:
      level 0:
        b "quoted" [stub]
      level 1:
        success [success] <- b "quoted"
level 1:
  per item [map] <- fan out
    branch (map over items as item, reduced by lambda *x: max(x)):
      level 0:
        shout
      level 1:
        success [success] <- shout
level 2:
  route [conditional] <- per item
    branch heads (when coin is heads):
      level 0:
        on_heads [stub]
      level 1:
        success [success] <- on_heads
    branch tails (when coin is tails):
      level 0:
        on_tails [stub]
      level 1:
        success [success] <- on_tails
    branch default (when coin matches no branch):
      level 0:
        on_edge [stub]
      level 1:
        fail [fail] <- on_edge
level 3:
  poll [loop] <- route
    branch (loop, at most 5 iterations, break on ready, index as RUNNABLE_POLL_INDEX):
      level 0:
        check #1 <ok> & `go` [stub]
      level 1:
        success [success] <- check #1 <ok> & `go`
level 4:
  success [success] <- poll
EOF
rn visualize --format dot "$V/composites.yaml"
expect_rc 0 "composites: --format dot"
for c in 'fan out' 'fan out.left' 'fan out.right' 'per item' 'per item.map_variable_placeholder' \
    route route.heads route.tails route.default poll poll.loop_variable_placeholder; do
    grep -F -q -x -e "$(printf '%*s' $(( $(tr -cd . <<<"$c" | wc -c) * 2 + 2 )) '')subgraph \"cluster_$c\" {" "$OUT" ||
        fail "composites: DOT cluster for $c" "no 'subgraph \"cluster_$c\" {' line at the right depth"
done
pass "composites: DOT clusters for every composite and branch, nested"
expect_out_has 'label="fan out [parallel]";' "composites: DOT cluster label names step and type"
expect_out_has 'label="branch default (when coin matches no branch)";' "composites: DOT default branch labelled"
expect_out_has '"fan out.right.b \"quoted\"" [label="b \"quoted\" [stub]"' "composites: DOT quotes escaped"
expect_out_has '"fan out%exit" -> "per item" [ltail="cluster_fan out", lhead="cluster_per item"];' \
    "composites: DOT edge between composites leaves and enters the clusters"
check_shape dot "composites"
rn visualize --format mermaid "$V/composites.yaml"
expect_rc 0 "composites: --format mermaid"
expect_out_has 'subgraph s6_fan_out ["fan out [parallel]"]' "composites: Mermaid subgraph per composite"
expect_out_has '(["check #35;1 #lt;ok#gt; #amp; #96;go#96; [stub]"])' "composites: Mermaid label characters escaped"
expect_out_has '(["b #quot;quoted#quot; [stub]"])' "composites: Mermaid quotes escaped"
check_shape mermaid "composites"
expect_empty_folder "composites"

# ---------------------------------------------------------------- nested
workdir nested
rn visualize "$V/nested.yaml"
expect_rc 0 "nested: map in a map in a parallel branch"
expect_stdout "nested: three levels of branches, each with its own levels" <<'EOF'
level 0:
  setup [stub]
level 1:
  split [parallel] <- setup
    branch outer:
      level 0:
        per_x [map]
          branch (map over xs as x):
            level 0:
              per_y [map]
                branch (map over ys as y):
                  level 0:
                    work
                  level 1:
                    recover [stub] <- work (on failure)
                    success [success] <- work
                  level 2:
                    fail [fail] <- recover
            level 1:
              success [success] <- per_y
      level 1:
        success [success] <- per_x
    branch side:
      level 0:
        a [stub]
      level 1:
        b [stub] <- a
      level 2:
        success [success] <- b
level 2:
  success [success] <- split
EOF
rn visualize --format dot "$V/nested.yaml"
expect_rc 0 "nested: --format dot"
expect_out_has '              "split.outer.per_x.map_variable_placeholder.per_y.map_variable_placeholder.work" [label="work"];' \
    "nested: DOT node four clusters deep, id is its internal name"
expect_out_has '"split.outer.per_x.map_variable_placeholder.per_y.map_variable_placeholder.work" -> "split.outer.per_x.map_variable_placeholder.per_y.map_variable_placeholder.recover" [style=dashed, label="on failure"];' \
    "nested: DOT on_failure edge dashed and labelled"
[ "$(grep -c -F '[label="success [success]"' "$OUT")" -eq 5 ] ||
    fail "nested: DOT has the five success nodes (root and four branches)"
pass "nested: DOT has the five success nodes (root and four branches)"
check_shape dot "nested"
rn visualize --format mermaid "$V/nested.yaml"
expect_rc 0 "nested: --format mermaid"
expect_out_has '              n16_work["work"]' "nested: Mermaid node nested three subgraph pairs deep"
expect_out_has 'n16_work -. on failure .-> n17_recover' "nested: Mermaid on_failure edge"
check_shape mermaid "nested"
expect_empty_folder "nested"

# ---------------------------------------------------------------- bad input
workdir bad
cp "$V/bad.yaml" .
for fmt in text dot mermaid; do
    rn visualize --format "$fmt" bad.yaml
    expect_rc 2 "bad input ($fmt)"
    expect_err_re '^runnable: error: bad\.yaml:6:(7|13): .*nowhere' \
        "bad input ($fmt): FILE:LINE:COL of the unknown next target"
    [ ! -s "$OUT" ] || fail "bad input ($fmt): nothing on stdout"
    pass "bad input ($fmt): nothing on stdout"
done
rn visualize missing.yaml
expect_rc 2 "missing pipeline file"
expect_err_re '^runnable: error: missing\.yaml: .*' "missing pipeline file: runnable: error: FILE: ..."
rn visualize --format png "$V/chain.yaml"
expect_rc 2 "unknown --format"
expect_err_has "runnable visualize: unknown format 'png'; use text, dot, mermaid or svg" \
    "unknown --format: usage error names the formats"
[ ! -s "$OUT" ] || fail "unknown --format: nothing on stdout"
pass "unknown --format: nothing on stdout"
rn visualize --format
expect_rc 2 "--format without a value"
rn visualize
expect_rc 2 "no pipeline given"
expect_err_has "runnable visualize: missing PIPELINE.yaml" "no pipeline given: says so"
rn visualize "$V/chain.yaml" extra
expect_rc 2 "an extra argument"
rn visualize --help
expect_rc 0 "--help"
expect_out_has "--format FORMAT" "--help lists --format"
expect_empty_folder "bad input" bad.yaml

# ---------------------------------------------------------------- corpus
if [ -d "$CORPUS" ]; then
    workdir corpus
    n=0
    while IFS= read -r f; do
        rel=${f#"$CORPUS"/}
        n=$((n + 1))
        for fmt in text dot mermaid; do
            rn visualize --format "$fmt" "$f"
            [ "$RC" -eq 0 ] || fail "corpus $rel ($fmt)" "expected exit 0, got $RC"
            [ -s "$OUT" ] || fail "corpus $rel ($fmt)" "nothing on stdout"
            [ "$fmt" = text ] || check_shape "$fmt" "corpus $rel" >/dev/null
        done
        pass "corpus $rel: text, dot and mermaid"
    done < <(grep -l -E '^dag:' -r "$CORPUS" --include='*.yaml' | sort)
    [ "$n" -ge 20 ] || fail "corpus pipelines found" "only $n files with a top-level dag: key"
    pass "corpus: $n pipelines drawn in every format"
    expect_empty_folder "corpus"
else
    echo "# shared corpus not found ($CORPUS): corpus part skipped"
fi

done_testing
