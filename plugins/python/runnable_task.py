"""Driver for runnable's `python` and `notebook` task types.

The task plugins (plugins/task_python.c, plugins/task_notebook.c) start
it in a child interpreter, one process per attempt, imported rather than
run as a script so that its compiled form is cached like any module's:

    PYTHON -u -c "import sys; sys.path.append(DIR_OF(argv[1])); import runnable_task;
                  sys.exit(runnable_task.main(sys.argv[1:]))" PATH/runnable_task.py REQUEST

(`python3 runnable_task.py REQUEST` works too, by hand.)

REQUEST is the request document as JSON text, or `@PATH` of a file holding
it.  The outcome is written as one JSON document to descriptor 3 (the
engine's private result descriptor; it never reaches the execution log).
stdout and stderr are the attempt's execution log.  The protocol is
documented in docs/python-tasks.md.

Start-up time matters (a trivial task should cost little more than
`python3 -c 'import mod; mod.f()'`), so only `json`, `os` and `sys` are
imported up front; everything else only when a task needs it.
"""
import os
import sys

PROTOCOL = 1


# ------------------------------------------------------------ JSON
# `import json` costs ~5 ms (it loads `re`), a fifth of a trivial task's
# whole run; its C half `_json` costs nothing.  Both are used as json
# uses them; any surprise (another Python) falls back to json itself.

_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo = None


def loads(text):
    try:
        import _json
        obj, end = _json.make_scanner(_ScanContext())(text, 0)
        if text[end:].strip():
            raise ValueError("extra data")
        return obj
    except Exception:
        import json
        return json.loads(text)


def _no_default(o):
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


def dumps(value):
    try:
        import _json
        enc = _json.make_encoder({}, _no_default, _json.encode_basestring_ascii, None,
                                 ": ", ", ", False, False, True)
        return "".join(enc(value, 0))
    except TypeError:
        raise
    except Exception:
        import json
        return json.dumps(value, allow_nan=True)


class TaskError(Exception):
    """A problem with the task as written (binding, returns): the step
    fails with this message and no traceback of the driver."""


# ------------------------------------------------------------ casting


def _is_pydantic_model(ann):
    return isinstance(ann, type) and (
        hasattr(ann, "model_validate") or
        (hasattr(ann, "parse_obj") and hasattr(ann, "__fields__")))


def _to_bool(value):
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off", ""):
            return False
        raise ValueError("%r is not a boolean" % value)
    return bool(value)


def cast(value, ann):
    """Convert a parameter's JSON value to the argument's annotation, the
    way runnable does: builtins by calling them, pydantic models built from
    mappings, generics by their origin type."""
    if ann is None or ann is _EMPTY:
        return value
    if _is_pydantic_model(ann):
        if isinstance(value, ann):
            return value
        if isinstance(value, str):
            value = loads(value)
        if hasattr(ann, "model_validate"):
            return ann.model_validate(value)
        return ann.parse_obj(value)
    origin = getattr(ann, "__origin__", None)
    if origin is not None:
        # List[int] -> list, Dict[str, int] -> dict; Union/Optional and
        # other special forms are not callable: leave the value alone.
        if isinstance(origin, type):
            ann = origin
        else:
            return value
    if ann is bool:
        return _to_bool(value)
    if ann in (list, dict, tuple, set, frozenset):
        if isinstance(value, str):
            value = loads(value)
        if isinstance(value, ann):
            return value
        return ann(value)
    if ann in (int, float, str):
        return ann(value)
    return value


class _Empty:
    pass


_EMPTY = _Empty()


# ------------------------------------------------------------ binding


def _signature(func):
    """(positional-or-keyword names with defaults, keyword-only names with
    defaults, has **kwargs, annotations).  Plain functions are read from
    their code object; inspect (~10 ms to import) only for the rest."""
    code = getattr(func, "__code__", None)
    if code is not None and not hasattr(func, "__wrapped__"):
        nargs = code.co_argcount
        nkw = code.co_kwonlyargcount
        names = code.co_varnames[:nargs]
        kwnames = code.co_varnames[nargs:nargs + nkw]
        defaults = func.__defaults__ or ()
        kwdefaults = func.__kwdefaults__ or {}
        params = []
        first_default = nargs - len(defaults)
        for i, n in enumerate(names):
            params.append((n, i >= first_default))
        for n in kwnames:
            params.append((n, n in kwdefaults))
        var_kw = bool(code.co_flags & 0x08)
        anns = dict(getattr(func, "__annotations__", None) or {})
        if any(isinstance(a, str) for a in anns.values()):
            import typing
            try:
                anns = typing.get_type_hints(func)
            except Exception:
                pass
        return params, var_kw, anns
    import inspect
    sig = inspect.signature(func)
    params, var_kw, anns = [], False, {}
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            var_kw = True
            continue
        if p.kind == p.VAR_POSITIONAL:
            continue
        params.append((p.name, p.default is not p.empty))
        if p.annotation is not p.empty:
            anns[p.name] = p.annotation
    return params, var_kw, anns


def _load_object(path):
    import pickle
    with open(path, "rb") as f:
        return pickle.load(f)


def bind(func, command, values, objects):
    """Keyword arguments for `func` from the task's parameters (`values`:
    name -> JSON value, map variables already over them) and object
    parameters (`objects`: name -> pickle path, loaded on demand)."""
    params, var_kw, anns = _signature(func)
    kwargs, bound = {}, set()
    namespace_arg = None
    for name, has_default in params:
        ann = anns.get(name, _EMPTY)
        if name in values:
            try:
                kwargs[name] = cast(values[name], ann)
            except Exception as e:
                raise TaskError("argument '%s' of %s: cannot convert %s to %s: %s" % (
                    name, command, _short(values[name]), _ann_name(ann), e))
            bound.add(name)
        elif name in objects:
            kwargs[name] = _load_object(objects[name])
            bound.add(name)
        elif getattr(ann, "__name__", None) == "Namespace" and \
                getattr(ann, "__module__", None) == "argparse":
            namespace_arg = name
        elif not has_default:
            raise TaskError("%s has a required argument '%s' that is not in the parameters "
                            "(known: %s)" % (command, name,
                                             ", ".join(sorted(set(values) | set(objects)))
                                             or "none"))
    rest = {k: v for k, v in values.items() if k not in bound}
    rest_objects = [k for k in objects if k not in bound and k not in rest]
    if var_kw:
        kwargs.update(rest)
        for k in rest_objects:
            kwargs[k] = _load_object(objects[k])
    elif namespace_arg is not None:
        import argparse
        ns = argparse.Namespace(**rest)
        for k in rest_objects:
            setattr(ns, k, _load_object(objects[k]))
        kwargs[namespace_arg] = ns
    return kwargs


def _short(value):
    try:
        text = dumps(value)
    except Exception:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _ann_name(ann):
    return getattr(ann, "__name__", None) or repr(ann)


# ------------------------------------------------------------ returns


def _jsonable(value, name):
    if hasattr(value, "model_dump") and callable(value.model_dump):
        value = value.model_dump()
    elif _is_pydantic_model(type(value)) and hasattr(value, "dict"):
        value = value.dict()
    try:
        dumps(value)
    except (TypeError, ValueError, RecursionError) as e:
        raise TaskError("return '%s': a %s is not JSON serialisable (%s); declare it with "
                        "kind: object to pickle it" % (name, type(value).__name__, e))
    return value


def _pickle_to(path, value, name):
    import pickle
    try:
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        raise TaskError("return '%s': cannot pickle a %s: %s" % (name, type(value).__name__, e))


def store_returns(req, pairs):
    """pairs: [(return spec, value)] -> the result's returns and objects."""
    out, objects = {}, {}
    for spec, value in pairs:
        name, kind = spec["name"], spec.get("kind") or "json"
        if kind == "object":
            fname = name + ".dill"
            _pickle_to(os.path.join(req["object_dir"], fname), value, name)
            objects[name] = fname
        else:
            out[name] = {"kind": kind, "value": _jsonable(value, name)}
    return out, objects


# ------------------------------------------------------------ python


def _import_function(command):
    command = command.strip()
    module_name, _, func_name = command.rpartition(".")
    if not module_name or not func_name:
        raise TaskError("command '%s' must be a dotted path module.function" % command)
    # The working folder first, as runnable imports user code.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    import importlib
    module = importlib.import_module(module_name)
    try:
        return getattr(module, func_name)
    except AttributeError:
        raise TaskError("module '%s' has no function '%s'" % (module_name, func_name))


def run_python(req):
    func = _import_function(req["command"])
    values = dict(req.get("parameters") or {})
    values.update(req.get("map_variables") or {})
    kwargs = bind(func, req["command"].strip(), values, req.get("objects") or {})
    result = func(**kwargs)
    returns = req.get("returns") or []
    if not returns:
        return {}, {}
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != len(returns):
        raise TaskError("%s returned %d value%s but the task declares %d return%s (%s)" % (
            req["command"].strip(), len(result), "" if len(result) == 1 else "s",
            len(returns), "" if len(returns) == 1 else "s",
            ", ".join(r["name"] for r in returns)))
    return store_returns(req, list(zip(returns, result)))


# ------------------------------------------------------------ main


def _result_writer():
    """The result descriptor moved out of the way of user code (the dup is
    not inheritable, so the task's own subprocesses do not get it)."""
    try:
        fd = os.dup(3)
        os.close(3)
    except OSError:
        return None
    return fd


def _write_result(fd, doc):
    data = dumps(doc).encode("utf-8")
    if fd is None:
        sys.stderr.write("runnable: result: %s\n" % data.decode("utf-8"))
        return
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def main(argv):
    # Run as a script, this module is __main__: the notebook half imports
    # it by name and must get this same module.
    sys.modules.setdefault("runnable_task", sys.modules[__name__])
    fd = _result_writer()
    if len(argv) != 2:
        sys.stderr.write("usage: runnable_task.py REQUEST-JSON|@FILE\n")
        return 2
    arg = argv[1]
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            req = loads(f.read())
    else:
        req = loads(arg)
    if req.get("protocol") != PROTOCOL:
        sys.stderr.write("runnable_task.py: protocol %r not supported (this driver speaks %d)\n"
                         % (req.get("protocol"), PROTOCOL))
        _write_result(fd, {"ok": False, "message": "the Python driver speaks protocol %d, the "
                           "plugin %r: install matching versions" % (PROTOCOL,
                                                                      req.get("protocol"))})
        return 1
    if req.get("log_format"):
        import logging
        logging.basicConfig(format=req["log_format"], stream=sys.stderr)
    try:
        if req["kind"] == "notebook":
            from runnable_notebook import run_notebook
            returns, objects = run_notebook(req)
        else:
            returns, objects = run_python(req)
    except TaskError as e:
        sys.stdout.flush()
        sys.stderr.write("runnable: %s\n" % e)
        _write_result(fd, {"ok": False, "message": str(e)})
        return 1
    except BaseException as e:  # the user's exception, SystemExit included
        import traceback
        sys.stdout.flush()
        traceback.print_exc()
        last = "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()
        message = last[-1] if last else type(e).__name__
        if type(e).__name__ == "CellExecutionError":
            # nbclient's message holds the cell and the kernel's traceback;
            # its last non-empty line is the exception ("ValueError: boom").
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            message = _strip_ansi(lines[-1]) if lines else message
        _write_result(fd, {"ok": False, "message": message})
        return 1
    sys.stdout.flush()
    _write_result(fd, {"ok": True, "returns": returns, "objects": objects})
    return 0


def _strip_ansi(text):
    import re
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
