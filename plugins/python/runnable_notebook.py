"""Notebook half of the runnable task driver (runnable_task.py), imported
only for `notebook` tasks: nbclient and ipykernel are loaded only then.
See docs/python-tasks.md."""
import json
import os
import sys

from runnable_task import TaskError



def _py_literal(value):
    """Source text that evaluates to `value` (a JSON value)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "float(%r)" % repr(value)
    if isinstance(value, (list, dict)):
        text = repr(value)
        if "nan" in text or "inf" in text:
            return "__import__('json').loads(%r)" % json.dumps(value)
        return text
    return repr(value)


_COLLECT = r'''
def __runnable_collect(__names, __kinds, __object_dir, __out):
    import json as __json, pickle as __pickle
    __g = globals()
    __res = {}
    for __n, __k in zip(__names, __kinds):
        if __n not in __g:
            __res[__n] = {"missing": True}
            continue
        __v = __g[__n]
        if __k == "object":
            with open(__object_dir + "/" + __n + ".dill", "wb") as __f:
                __pickle.dump(__v, __f, protocol=__pickle.HIGHEST_PROTOCOL)
            __res[__n] = {"object": __n + ".dill"}
            continue
        if hasattr(__v, "model_dump") and callable(__v.model_dump):
            __v = __v.model_dump()
        elif hasattr(__v, "__fields__") and hasattr(__v, "dict"):
            __v = __v.dict()
        try:
            __json.dumps(__v, allow_nan=True)
        except (TypeError, ValueError) as __e:
            __res[__n] = {"error": "a %s is not JSON serialisable (%s)" % (type(__v).__name__, __e)}
            continue
        __res[__n] = {"value": __v}
    with open(__out, "w", encoding="utf-8") as __f:
        __json.dump(__res, __f, allow_nan=True)
__runnable_collect(@ARGS@)
del __runnable_collect
'''


def _notebook_kernel(client):
    """The kernel runs this interpreter (a user's virtualenv), not whatever
    `python3` the installed kernelspec names."""
    km = client.create_kernel_manager()
    try:
        from jupyter_client.kernelspec import KernelSpec
        km._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (runnable)", language="python")
    except Exception:
        pass
    return km


def run_notebook(req):
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as e:
        raise TaskError("notebook tasks need nbclient and ipykernel in %s (%s; on Debian: "
                        "apt-get install python3-nbclient python3-ipykernel)" % (
                            sys.executable, e))
    path = req["command"].strip()
    out_path = req["notebook_out"]
    nb = nbformat.read(path, as_version=4)

    values = dict(req.get("parameters") or {})
    values.update(req.get("map_variables") or {})
    lines = ["# Parameters injected by runnable"]
    for k, v in values.items():
        if k.isidentifier():
            lines.append("%s = %s" % (k, _py_literal(v)))
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    # After a cell tagged `parameters` (its defaults are then overridden),
    # else first.
    at = 0
    for i, c in enumerate(nb.cells):
        if "parameters" in (c.get("metadata", {}).get("tags") or []):
            at = i + 1
            break
    nb.cells.insert(at, injected)

    client = NotebookClient(nb, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": os.getcwd()}})
    _notebook_kernel(client)
    returns = req.get("returns") or []
    collected = None
    error = None
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            if returns:
                import tempfile
                fd, tmp = tempfile.mkstemp(prefix="rn-nb-", suffix=".json")
                os.close(fd)
                try:
                    args = "%r, %r, %r, %r" % ([r["name"] for r in returns],
                                               [r.get("kind") or "json" for r in returns],
                                               req.get("object_dir") or ".", tmp)
                    code = _COLLECT.replace("@ARGS@", args)
                    # nbclient looks a cell up by its index: the collector
                    # joins the notebook while it runs, never the saved copy.
                    collect = nbformat.v4.new_code_cell(code)
                    nb.cells.append(collect)
                    try:
                        client.execute_cell(collect, len(nb.cells) - 1, store_history=False)
                    finally:
                        nb.cells.pop()
                    with open(tmp, encoding="utf-8") as f:
                        collected = json.load(f)
                finally:
                    os.unlink(tmp)
    except Exception as e:
        error = e
    finally:
        _save_notebook(nb, out_path)
    if error is not None:
        raise error

    out, objects = {}, {}
    for r in returns:
        name, kind = r["name"], r.get("kind") or "json"
        got = collected.get(name, {})
        if got.get("missing"):
            raise TaskError("return '%s': the notebook defines no variable of that name" % name)
        if "error" in got:
            raise TaskError("return '%s': %s; declare it with kind: object to pickle it" % (
                name, got["error"]))
        if kind == "object":
            objects[name] = got["object"]
        else:
            out[name] = {"kind": kind, "value": got["value"]}
    return out, objects


def _save_notebook(nb, out_path):
    import nbformat
    d = os.path.dirname(out_path) or "."
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(out_path), os.getpid()))
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, out_path)
    except OSError as e:
        print("runnable: cannot save the executed notebook %s: %s" % (out_path, e),
              file=sys.stderr)
