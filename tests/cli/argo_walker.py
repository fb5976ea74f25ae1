#!/usr/bin/python3
"""Run an Argo Workflow manifest the way Argo's controller would, on this
machine: templates from the entrypoint down, `steps` groups in order and DAG
tasks in `depends` order, `when` conditions, `withParam` fan-outs over a
step's output parameter, `continueOn`, `retryStrategy` (no waiting between
attempts) and `activeDeadlineSeconds`; every container's command runs as a
local process in one folder standing in for the shared volume, with the
program named `runnable` replaced by the one under test.  Used by
t_argo.sh to prove a generated manifest runs its pipeline.

    argo_walker.py MANIFEST RUNNABLE WORKDIR [--name NAME] [-p NAME=VALUE]...

Prints one line per pod (template and command); exit 0 when the workflow
Succeeded, 1 when it Failed, 3 when the manifest uses something this walker
does not know (so a test never passes by ignoring part of a manifest).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

TEMPLATE_KEYS = {"name", "inputs", "outputs", "container", "steps", "dag", "retryStrategy",
                 "activeDeadlineSeconds", "timeout", "parallelism", "nodeSelector",
                 "tolerations", "metadata"}
STEP_KEYS = {"name", "template", "arguments", "when", "withParam", "withItems", "continueOn"}
TASK_KEYS = STEP_KEYS | {"depends"}
FAN_FILE = "/tmp/runnable-fan.json"


class Unsupported(Exception):
    pass


def subst(text, scope):
    def rep(m):
        key = m.group(1).strip()
        if key not in scope:
            raise Unsupported("unresolved {{%s}} in %r" % (key, text))
        return scope[key]
    return re.sub(r"\{\{([^{}]*)\}\}", rep, text)


def eval_when(expr):
    """'a' == 'b', !=, ||, &&, !, parentheses: the forms the generator writes."""
    out = []
    for tok in re.findall(r"'[^']*'|==|!=|\|\||&&|!|\(|\)|\S+", expr):
        if tok.startswith("'"):
            out.append(repr(tok[1:-1]))
        elif tok in ("==", "!=", "(", ")"):
            out.append(tok)
        elif tok == "||":
            out.append("or")
        elif tok == "&&":
            out.append("and")
        elif tok == "!":
            out.append("not")
        else:
            raise Unsupported("when: cannot evaluate %r" % expr)
    return bool(eval(" ".join(out), {"__builtins__": {}}))


RESULTS = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned"}


def eval_depends(expr, state):
    out = []
    for tok in re.findall(r"\|\||&&|!|\(|\)|[A-Za-z0-9][-A-Za-z0-9]*(?:\.[A-Za-z]+)?", expr):
        if tok == "||":
            out.append("or")
        elif tok == "&&":
            out.append("and")
        elif tok == "!":
            out.append("not")
        elif tok in "()":
            out.append(tok)
        else:
            task, _, res = tok.partition(".")
            if task not in state:
                raise Unsupported("depends on unknown task %r" % task)
            if not res:
                ok = state[task] in ("Succeeded", "Skipped", "Daemoned")
            elif res in RESULTS:
                ok = state[task] == res
            else:
                raise Unsupported("depends: %r" % tok)
            out.append(repr(ok))
    return bool(eval(" ".join(out), {"__builtins__": {}}))


def depends_names(expr):
    return {t.partition(".")[0] for t in
            re.findall(r"[A-Za-z0-9][-A-Za-z0-9]*(?:\.[A-Za-z]+)?", expr or "")}


def item_text(item):
    return item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))


class Walker:
    def __init__(self, doc, runnable, workdir, name, params):
        if doc.get("kind") == "CronWorkflow":
            self.spec = doc["spec"]["workflowSpec"]
        elif doc.get("kind") == "Workflow":
            self.spec = doc["spec"]
        else:
            raise Unsupported("kind %r" % doc.get("kind"))
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        self.runnable = runnable
        self.workdir = workdir
        self.glob = {"workflow.name": name}
        for p in self.spec.get("arguments", {}).get("parameters", []):
            self.glob["workflow.parameters." + p["name"]] = str(p.get("value", ""))
        for k, v in params.items():
            self.glob["workflow.parameters." + k] = v
        self.pods = 0

    def run(self, name, args, depth=0):
        if depth > 200:
            raise Unsupported("templates nested deeper than 200")
        t = self.templates.get(name)
        if t is None:
            raise Unsupported("no template %r" % name)
        extra = set(t) - TEMPLATE_KEYS
        if extra:
            raise Unsupported("template %s: %s" % (name, sorted(extra)))
        scope = dict(self.glob)
        for p in t.get("inputs", {}).get("parameters", []):
            if p["name"] in args:
                scope["inputs.parameters." + p["name"]] = args[p["name"]]
            elif "value" in p or "default" in p:
                scope["inputs.parameters." + p["name"]] = str(p.get("value", p.get("default")))
            else:
                raise Unsupported("template %s: input %s not given" % (name, p["name"]))
        if "container" in t:
            return self.container(t, scope)
        if "steps" in t:
            return self.steps(t, scope, depth)
        if "dag" in t:
            return self.dag(t, scope, depth)
        raise Unsupported("template %s has no container, steps or dag" % name)

    def container(self, t, scope):
        c = t["container"]
        extra = set(c) - {"image", "command", "args", "env", "imagePullPolicy", "resources",
                          "volumeMounts"}
        if extra:
            raise Unsupported("container of %s: %s" % (t["name"], sorted(extra)))
        tmp = tempfile.mkdtemp(prefix="pod-", dir=self.workdir + "/.pods")
        fan = os.path.join(tmp, "fan.json")
        argv = [subst(a, scope) for a in c["command"] + c.get("args", [])]
        argv = [self.runnable if a == "runnable" else a.replace(FAN_FILE, fan) for a in argv]
        env = dict(os.environ)
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = subst(e["value"], scope)
            elif "valueFrom" in e and "secretKeyRef" in e["valueFrom"]:
                ref = e["valueFrom"]["secretKeyRef"]
                key = "SECRET_%s_%s" % (ref["name"], ref["key"])
                if key not in os.environ:
                    raise Unsupported("secret %s/%s: set %s" % (ref["name"], ref["key"], key))
                env[e["name"]] = os.environ[key]
            else:
                raise Unsupported("env entry %r" % e)
        retry = t.get("retryStrategy")
        attempts = 1 + (int(subst(str(retry.get("limit", "0")), scope)) if retry else 0)
        deadline = t.get("activeDeadlineSeconds")
        rc = None
        for _ in range(attempts):
            self.pods += 1
            print("%s: %s" % (t["name"], " ".join(argv[1:] if argv[0] == self.runnable
                                                  else argv)), flush=True)
            try:
                rc = subprocess.run(argv, cwd=self.workdir, env=env, stdout=subprocess.DEVNULL,
                                    stderr=sys.stderr,
                                    timeout=int(deadline) if deadline else None).returncode
            except subprocess.TimeoutExpired:
                rc = -1
            if rc == 0:
                break
        outputs = {}
        for p in t.get("outputs", {}).get("parameters", []):
            path = p["valueFrom"]["path"].replace(FAN_FILE, fan)
            if os.path.exists(path):
                outputs[p["name"]] = open(path).read()
            elif "default" in p["valueFrom"]:
                outputs[p["name"]] = p["valueFrom"]["default"]
            elif rc == 0:
                return "Failed", {}
        return ("Succeeded" if rc == 0 else "Failed"), outputs

    def call(self, s, scope, depth):
        """One step or task: when, withParam/withItems, the template."""
        if s.get("when") and not eval_when(subst(s["when"], scope)):
            return "Skipped", {}
        if "withParam" in s or "withItems" in s:
            items = json.loads(subst(s["withParam"], scope)) if "withParam" in s \
                else s["withItems"]
            if not isinstance(items, list):
                raise Unsupported("withParam of %s is not a list" % s["name"])
            phases = []
            for item in items:
                sc = dict(scope, item=item_text(item))
                phases.append(self.run(s["template"], self.args(s, sc), depth + 1)[0])
            if not phases:
                return "Skipped", {}
            return ("Failed" if "Failed" in phases else "Succeeded"), {}
        return self.run(s["template"], self.args(s, scope), depth + 1)

    @staticmethod
    def args(s, scope):
        return {p["name"]: subst(str(p.get("value", "")), scope)
                for p in s.get("arguments", {}).get("parameters", [])}

    def publish(self, scope, kind, name, phase, outputs):
        scope["%s.%s.status" % (kind, name)] = phase
        for k, v in outputs.items():
            scope["%s.%s.outputs.parameters.%s" % (kind, name, k)] = v

    def steps(self, t, scope, depth):
        scope = dict(scope)
        for group in t["steps"]:
            failed = False
            for s in group:
                extra = set(s) - STEP_KEYS
                if extra:
                    raise Unsupported("step %s: %s" % (s["name"], sorted(extra)))
                phase, outputs = self.call(s, scope, depth)
                self.publish(scope, "steps", s["name"], phase, outputs)
                if phase == "Failed" and not s.get("continueOn", {}).get("failed"):
                    failed = True
            if failed:
                return "Failed", {}
        return "Succeeded", {}

    def dag(self, t, scope, depth):
        scope = dict(scope)
        tasks = t["dag"]["tasks"]
        state = {}
        while len(state) < len(tasks):
            moved = False
            for s in tasks:
                if s["name"] in state:
                    continue
                extra = set(s) - TASK_KEYS
                if extra:
                    raise Unsupported("task %s: %s" % (s["name"], sorted(extra)))
                deps = depends_names(s.get("depends"))
                if not deps <= set(state):
                    continue
                moved = True
                if s.get("depends") and not eval_depends(s["depends"], state):
                    state[s["name"]] = "Omitted"
                    continue
                phase, outputs = self.call(s, scope, depth)
                state[s["name"]] = phase
                self.publish(scope, "tasks", s["name"], phase, outputs)
            if not moved:
                raise Unsupported("dag %s: tasks wait on each other" % t["name"])
        # A failure counts unless a task that ran was waiting for it.
        for s in tasks:
            if state[s["name"]] != "Failed":
                continue
            handled = any(state[o["name"]] != "Omitted" and
                          re.search(r"(^|[^-\w])%s\.Failed" % re.escape(s["name"]),
                                    o.get("depends") or "")
                          for o in tasks)
            if not handled:
                return "Failed", {}
        return "Succeeded", {}


def main():
    argv = sys.argv[1:]
    params, name = {}, None
    pos = []
    while argv:
        a = argv.pop(0)
        if a == "-p":
            k, _, v = argv.pop(0).partition("=")
            params[k] = v
        elif a == "--name":
            name = argv.pop(0)
        else:
            pos.append(a)
    manifest, runnable, workdir = pos
    docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
    if len(docs) != 1:
        raise Unsupported("expected one document, found %d" % len(docs))
    doc = docs[0]
    if not name:
        md = doc["metadata"]
        name = md.get("name") or (md["generateName"] + "walk1")
    os.makedirs(workdir + "/.pods", exist_ok=True)
    w = Walker(doc, os.path.abspath(runnable), os.path.abspath(workdir), name, params)
    phase, _ = w.run(w.spec["entrypoint"], {})
    print("workflow %s: %s (%d pods)" % (name, phase, w.pods))
    return 0 if phase == "Succeeded" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unsupported as e:
        sys.stderr.write("argo_walker: unsupported: %s\n" % e)
        sys.exit(3)
