#!/usr/bin/python3
"""The part of a run log that must not depend on how the run was driven:
statuses, attempts' outcomes, parameters in every scope, branches.  Prints
it as JSON for comparison (t_node.sh).  Accepts a file-system run log file
or a chunked-fs run folder read through `runnable runs show --json`.

    runlog_shape.py RUNLOG.json
"""
import json
import sys


def values(params):
    return {k: v.get("value") for k, v in (params or {}).items()}


def steps(d):
    out = {}
    for key, st in (d or {}).items():
        out[key] = {
            "status": st["status"],
            "type": st["step_type"],
            "attempts": [(a["status"], values(a.get("output_parameters")))
                         for a in st.get("attempts", [])],
            "branches": {b: {"status": v["status"], "parameters": values(v.get("parameters")),
                             "steps": steps(v.get("steps"))}
                         for b, v in (st.get("branches") or {}).items()},
        }
    return out


doc = json.load(open(sys.argv[1]))
print(json.dumps({"status": doc["status"], "parameters": values(doc["parameters"]),
                  "steps": steps(doc["steps"])}, indent=1, sort_keys=True))
