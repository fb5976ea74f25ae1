# The pipelines both node-protocol walkers run (t_node.sh walks them node
# by node, t_argo.sh through a generated manifest), each compared with
# `execute`'s run log by the caller's same_as_execute.  The caller writes
# the parameter files first (p.yaml, c-heads.yaml, c-default.yaml, r.yaml,
# n-ok.yaml, n-cell.yaml, n-mk.yaml).  Sourced, after lib.sh.
walk_cases() {
    same_as_execute "linear" "$RN_SRCDIR/examples/hello.yaml"
    same_as_execute "failure without on_failure" "$P/fail.yaml"
    same_as_execute "on_failure followed" "$P/on_failure.yaml"
    same_as_execute "parallel" "$C/parallel.yaml" -p p.yaml
    same_as_execute "parallel with a failing branch" "$C/parallel_fail.yaml" -p p.yaml
    same_as_execute "map over items of every JSON type" "$C/map.yaml" -p p.yaml
    same_as_execute "conditional, a named branch" "$C/conditional.yaml" -p c-heads.yaml
    same_as_execute "conditional, the default branch" "$C/conditional.yaml" -p c-default.yaml
    same_as_execute "reducers" "$C/reducers.yaml" -p r.yaml
    same_as_execute "map in map in parallel" "$C/nested.yaml" -p n-ok.yaml
    same_as_execute "map in map in parallel, an inner cell fails" "$C/nested.yaml" -p n-cell.yaml
    same_as_execute "map in map in parallel, the first task fails" "$C/nested.yaml" -p n-mk.yaml
}
