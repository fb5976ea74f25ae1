#!/usr/bin/python3
"""Run a pipeline node by node, as an orchestrator (Argo, Slurm, a container
executor) does: `runnable fan ... out`, every branch's steps with
`runnable execute-single-node`, then `runnable fan ... in`, following
next/on_failure by exit status.  The graph comes from run_config.dag of a
reference run log (the same pipeline run by `execute`), so this walker
needs no YAML reader.  Used by t_node.sh.

    node_walker.py RUNNABLE RUN_ID PIPELINE DAG_JSON [runnable options...]
"""
import json
import subprocess
import sys

runnable, run_id, pipeline, dag_file = sys.argv[1:5]
extra = sys.argv[5:]
calls = []


def call(args):
    calls.append(" ".join(args))
    p = subprocess.run([runnable] + args + extra, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode not in (0, 1):
        sys.stderr.write("runnable %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
        sys.exit(3)
    return p.returncode == 0, p.stdout


def iter_json(ctx):
    return json.dumps({"map_variable": {k: {"value": v} for k, v in ctx},
                       "loop_variable": []})


def walk(graph, prefix, ctx):
    nodes = graph["nodes"]
    name = graph["start_at"]
    while True:
        node = nodes[name]
        kind = node["node_type"]
        static = prefix + name
        if kind in ("task", "stub", "success", "fail"):
            ok, _ = call(["execute-single-node", run_id, pipeline, static.replace(" ", "%"),
                          "--iter-variable", iter_json(ctx)])
            if kind in ("success", "fail"):
                return
        else:
            ok, out = call(["fan", run_id, static, pipeline, "out",
                            "--iter-variable", iter_json(ctx)])
            if ok:
                value = json.loads(out)
                if kind == "parallel":
                    for key in value:
                        walk(node["branches"][key], static + "." + key + ".", ctx)
                elif kind == "map":
                    for item in value:
                        walk(node["branch"], static + ".map_variable_placeholder.",
                             ctx + [(node["iterate_as"], item)])
                elif kind == "conditional":
                    branch = node["branches"].get(value) or node.get("default")
                    walk(branch, static + "." + value + ".", ctx)
                else:
                    sys.exit("walker: %s steps are not walked" % kind)
                ok, _ = call(["fan", run_id, static, pipeline, "in",
                              "--iter-variable", iter_json(ctx)])
        nxt = node.get("next_node") if ok else node.get("on_failure")
        name = nxt or ("success" if ok else "fail")


dag = json.load(open(dag_file))["run_config"]["dag"]
walk(dag, "", [])
print("\n".join(calls))
