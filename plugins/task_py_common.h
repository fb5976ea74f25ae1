/*
 * What the `python` and `notebook` task plugins share: the interpreter and
 * driver lookup, the request document handed to the driver
 * (plugins/python/runnable_task.py) and reading its result back
 * (docs/python-tasks.md describes both).
 *
 * Everything here is static: each plugin includes this file once, so the
 * modules still export nothing but their descriptor and link side by side
 * into a static (dlpreopened) build.
 */
#ifndef RN_TASK_PY_COMMON_H
#define RN_TASK_PY_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "identifier.h"

/* The descriptor the driver writes its result document to. */
#define PY_RESULT_FD 3
/* The protocol version spoken with the driver ("protocol" member). */
#define PY_PROTOCOL 1
/* Longer requests go through a file: one argv string is limited to
 * 128 KiB by Linux (MAX_ARG_STRLEN). */
#define PY_ARGV_MAX (96 * 1024)

#ifndef RN_PY_DRIVER
#define RN_PY_DRIVER "runnable_task.py"
#endif

/* The driver is imported, not run as a script: a script is compiled on
 * every start (8 ms for the driver, a third of a trivial task), a module
 * from its cached .pyc.  Its folder goes last on sys.path so it never
 * shadows the user's modules; with -c the working folder comes first, as
 * runnable imports user code. */
#define PY_BOOT \
    "import sys; sys.path.append(sys.argv[1].rpartition('/')[0] or '.'); " \
    "import runnable_task; sys.exit(runnable_task.main(sys.argv[1:]))"

typedef enum { PY_TASK_PYTHON, PY_TASK_NOTEBOOK } py_task_kind;

static const char *py_return_kind(const json_t *ret)
{
    const char *k = json_string_value(json_object_get(ret, "kind"));
    return k ? k : "json";
}

/* Python's str.strip() of ASCII whitespace: runnable strips commands. */
static void py_trim(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);
    while (n && (*s == ' ' || (*s >= '\t' && *s <= '\r'))) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    *start = s;
    *len = n;
}

/* The checks both task types make on `returns` (its shape is checked by
 * the pipeline loader, with positions). */
/* The task's `command`, trimmed, for validate(); `what` says what it must
 * be when it is missing or blank. */
static int py_task_command(const json_t *task, const char *what, const char **start,
                           size_t *len)
{
    if (!json_is_object(task))
        return rn_error_set(RN_EINVAL, "a task must be a mapping");
    const char *cmd = json_string_value(json_object_get(task, "command"));
    *len = 0;
    if (cmd)
        py_trim(cmd, start, len);
    if (!cmd || !*len)
        return rn_error_set(RN_EINVAL, "command: must be %s", what);
    return 0;
}

static int py_validate_returns(const json_t *task, py_task_kind kind)
{
    const json_t *returns = json_object_get(task, "returns");
    if (!json_is_array(returns))
        return 0;
    size_t i;
    const json_t *ret;
    json_array_foreach(returns, i, ret) {
        const char *name = json_string_value(json_object_get(ret, "name"));
        if (!json_is_object(ret) || !name)
            continue;
        const json_t *jkind = json_object_get(ret, "kind");
        if (jkind && !json_is_null(jkind) && !json_is_string(jkind))
            continue;
        const char *k = py_return_kind(ret);
        if (strcmp(k, "json") != 0 && strcmp(k, "metric") != 0 && strcmp(k, "object") != 0)
            return rn_error_set(RN_EINVAL, "returns[%zu] (%s): unknown kind '%s' (json, metric "
                                "or object)", i, name, k);
        /* A notebook's returns are looked up as variables of its namespace;
         * an object's name becomes a file name in the catalog. */
        if ((kind == PY_TASK_NOTEBOOK || strcmp(k, "object") == 0) && !rn_is_identifier(name))
            return rn_error_set(RN_EINVAL, "returns[%zu]: '%s' is not a Python identifier "
                                "(letters, digits and _, not starting with a digit)", i, name);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Per-attempt scratch names                                            */
/* ------------------------------------------------------------------ */

/* Attempts of one plugin may run at once (parallel branches), and the
 * plugin keeps no state between prepare() and collect(): the attempt's
 * scratch folder is named from the request itself. */
static char *py_scratch_path(const rn_task_request *req, const char *suffix)
{
    rn_buf key = { 0 };
    char hex[65];
    rn_buf_printf(&key, "%s\n%s", req->run_id ? req->run_id : "",
                  req->internal_name ? req->internal_name : "");
    rn_sha256_hex(key.data ? key.data : "", key.len, hex);
    rn_buf_free(&key);
    const char *tmp = getenv("TMPDIR");
    rn_buf b = { 0 };
    if (rn_buf_printf(&b, "%s/rn-py-%ld-%.16s-%d%s", tmp && *tmp ? tmp : "/tmp",
                      (long)getpid(), hex, req->attempt, suffix) < 0) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Remove the scratch folder and what the driver left in it (flat). */
static void py_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        rn_buf p = { 0 };
        if (rn_buf_printf(&p, "%s/%s", dir, ent->d_name) == 0)
            unlink(p.data);
        rn_buf_free(&p);
    }
    closedir(d);
    rmdir(dir);
}

static int py_has_object_returns(const rn_task_request *req)
{
    size_t i;
    const json_t *ret;
    json_array_foreach(req->returns, i, ret) {
        if (strcmp(py_return_kind(ret), "object") == 0)
            return 1;
    }
    return 0;
}

/*
 * The catalog name of an object returned by this step: `<name>` at the
 * root, as runnable names it; inside a branch, `<name>_<branch path>`
 * (`model_map_state.1`) so that map iterations and parallel branches do
 * not overwrite each other's objects (runnable's defect D9).  The
 * parameter's value is this name, so readers find the right file.
 */
static char *py_object_name(const rn_task_request *req, const char *name)
{
    const char *in = req->internal_name ? req->internal_name : "";
    const char *dot = strrchr(in, '.');
    rn_buf b = { 0 };
    int rc = rn_buf_append(&b, name, strlen(name));
    if (!rc && dot) {
        rc = rn_buf_append(&b, "_", 1);
        for (const char *p = in; !rc && p < dot; p++) {
            char c = *p;
            int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
            rc = rn_buf_append(&b, keep ? &c : "_", 1);
        }
    }
    if (rc || !b.data) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ------------------------------------------------------------------ */
/* prepare                                                              */
/* ------------------------------------------------------------------ */

/* What both plugins keep: the interpreter the configuration chose
 * (`tasks.<type>.config.python`, or the executor's `python`). */
typedef struct py_plugin {
    char *python;              /* NULL: RUNNABLE_PYTHON, then python3 */
} py_plugin;

static const char *const py_config_keys[] = {"python", NULL};

static int py_plugin_create(void **self, const json_t *config)
{
    const json_t *py = json_object_get(config, "python");
    if (py && (!json_is_string(py) || !*json_string_value(py)))
        return rn_error_set(RN_EINVAL, "setting 'python' must be the path or name of a "
                                       "Python interpreter (e.g. .venv/bin/python)");
    py_plugin *p = calloc(1, sizeof *p);
    if (!p || (py && !(p->python = strdup(json_string_value(py))))) {
        free(p);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    *self = p;
    return 0;
}

static void py_plugin_destroy(void *self)
{
    py_plugin *p = self;
    if (p)
        free(p->python);
    free(p);
}

/* The configuration's choice is explicit for this pipeline, so it comes
 * first; RUNNABLE_PYTHON serves runs whose configuration names none. */
static const char *py_interpreter(const py_plugin *p)
{
    if (p && p->python)
        return p->python;
    const char *env = getenv("RUNNABLE_PYTHON");
    return env && *env ? env : "python3";
}

static const char *py_driver(void)
{
    const char *env = getenv("RUNNABLE_PYTHON_DRIVER");
    return env && *env ? env : RN_PY_DRIVER;
}

/* Fill `values` (name -> JSON value) and, for Python, `objects`
 * (name -> pickle path, or null when the catalog cannot say where). */
static int py_collect_parameters(const rn_task_request *req, py_task_kind kind, json_t *values,
                                 json_t *objects)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)req->parameters, key, v) {
        const char *pk = json_string_value(json_object_get(v, "kind"));
        json_t *value = json_object_get(v, "value");
        if (!value)
            continue;
        if (pk && strcmp(pk, "object") == 0) {
            /* As in runnable: objects reach Python functions only. */
            if (kind != PY_TASK_PYTHON || !json_is_string(value))
                continue;
            rn_buf name = { 0 };
            char *path = NULL;
            if (rn_buf_printf(&name, "%s.dill", json_string_value(value)) < 0)
                return rn_error_set(RN_ENOMEM, "out of memory");
            int rc = rn_task_catalog_locate(req, name.data, &path);
            rn_buf_free(&name);
            json_t *jp = rc == 0 && path ? json_string(path) : json_null();
            free(path);
            if (json_object_set_new(objects, key, jp) < 0)
                return rn_error_set(RN_ENOMEM, "out of memory");
            continue;
        }
        if (json_object_set(values, key, value) < 0)
            return rn_error_set(RN_ENOMEM, "out of memory");
    }
    return 0;
}

/* Write `text` to `path` (a new file only this user can read: parameters
 * may be private). */
static int py_write_private(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return rn_error_set(RN_EIO, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0) {
            int err = errno;
            close(fd);
            unlink(path);
            return rn_error_set(RN_EIO, "cannot write %s: %s", path, strerror(err));
        }
        off += (size_t)n;
    }
    close(fd);
    return 0;
}

/* `extra` (borrowed): type-specific members added to the request. */
static int py_prepare(const py_plugin *plugin, const rn_task_request *req, rn_launch *launch,
                      py_task_kind kind, json_t *extra)
{
    int rc = 0;
    char *object_dir = NULL, *req_file = NULL, *text = NULL;
    json_t *doc = json_object(), *values = json_object(), *objects = json_object();
    if (!doc || !values || !objects) {
        rc = rn_error_set(RN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = py_collect_parameters(req, kind, values, objects)) < 0)
        goto out;
    const char *start;
    size_t len;
    py_trim(req->command ? req->command : "", &start, &len);
    json_t *map_vars = req->map_variables ? json_incref((json_t *)req->map_variables)
                                          : json_object();
    if (json_object_set_new(doc, "protocol", json_integer(PY_PROTOCOL)) < 0 ||
        json_object_set_new(doc, "kind",
                            json_string(kind == PY_TASK_PYTHON ? "python" : "notebook")) < 0 ||
        json_object_set_new(doc, "command", json_stringn(start, len)) < 0 ||
        json_object_set_new(doc, "step", json_string(req->internal_name)) < 0 ||
        json_object_set(doc, "parameters", values) < 0 ||
        json_object_set(doc, "objects", objects) < 0 ||
        json_object_set_new(doc, "map_variables", map_vars) < 0 ||
        json_object_set(doc, "returns", (json_t *)req->returns) < 0 ||
        (extra && json_object_update(doc, extra) < 0)) {
        rc = rn_error_set(RN_ENOMEM, "out of memory");
        goto out;
    }
    if (py_has_object_returns(req)) {
        object_dir = py_scratch_path(req, ".d");
        if (!object_dir) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
            goto out;
        }
        py_remove_dir(object_dir); /* left by an engine that was killed */
        if (mkdir(object_dir, 0700) < 0) {
            rc = rn_error_set(RN_EIO, "cannot create %s: %s", object_dir, strerror(errno));
            goto out;
        }
        if (json_object_set_new(doc, "object_dir", json_string(object_dir)) < 0) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
            goto out;
        }
    }
    text = rn_json_dumps_py(doc, 0);
    if (!text) {
        rc = rn_error_set(RN_ENOMEM, "cannot encode the request");
        goto out;
    }

    /* Secrets reach the interpreter's environment only (never argv, the
     * request or a log). */
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)req->secrets, key, v) {
        const char *s = json_string_value(v);
        if (!s) {
            rc = rn_error_set(RN_EINVAL, "secret '%s' has no string value", key);
            goto out;
        }
        if ((rc = rn_launch_setenv(launch, key, s)) < 0)
            goto out;
    }

    if ((rc = rn_launch_add_arg(launch, py_interpreter(plugin))) < 0 ||
        /* -u: the function's prints and its logging interleave in the
         * execution log as they happened. */
        (rc = rn_launch_add_arg(launch, "-u")) < 0 ||
        (rc = rn_launch_add_arg(launch, "-c")) < 0 ||
        (rc = rn_launch_add_arg(launch, PY_BOOT)) < 0 ||
        (rc = rn_launch_add_arg(launch, py_driver())) < 0)
        goto out;
    if (strlen(text) <= PY_ARGV_MAX) {
        rc = rn_launch_add_arg(launch, text);
    } else {
        req_file = py_scratch_path(req, ".json");
        if (!req_file) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = py_write_private(req_file, text)) < 0)
            goto out;
        rn_buf arg = { 0 };
        rc = rn_buf_printf(&arg, "@%s", req_file);
        if (!rc)
            rc = rn_launch_add_arg(launch, arg.data);
        rn_buf_free(&arg);
    }
    if (!rc)
        rc = rn_launch_want_result(launch, PY_RESULT_FD);
out:
    if (rc < 0) {
        if (object_dir)
            py_remove_dir(object_dir);
        if (req_file)
            unlink(req_file);
    }
    free(object_dir);
    free(req_file);
    free(text);
    json_decref(doc);
    json_decref(values);
    json_decref(objects);
    return rc;
}

/* ------------------------------------------------------------------ */
/* collect                                                              */
/* ------------------------------------------------------------------ */

/* The driver's scratch files of this attempt are gone afterwards,
 * whatever happened. */
static void py_cleanup(const rn_task_request *req)
{
    char *p = py_scratch_path(req, ".d");
    if (p)
        py_remove_dir(p);
    free(p);
    p = py_scratch_path(req, ".json");
    if (p)
        unlink(p);
    free(p);
}

/* Store the objects the driver pickled and record them as parameters. */
static int py_store_objects(const rn_task_request *req, const json_t *objects,
                            rn_task_result *result)
{
    char *dir = py_scratch_path(req, ".d");
    if (!dir)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = 0;
    size_t i;
    const json_t *ret;
    json_array_foreach(req->returns, i, ret) {
        if (strcmp(py_return_kind(ret), "object") != 0)
            continue;
        const char *name = json_string_value(json_object_get(ret, "name"));
        const char *file = json_string_value(json_object_get(objects, name));
        if (!name || !file || strchr(file, '/')) {
            rc = rn_error_set(RN_EINVAL, "return '%s': the driver stored no object", name);
            break;
        }
        char *stored = py_object_name(req, name);
        rn_buf local = { 0 }, cname = { 0 };
        if (!stored || rn_buf_printf(&local, "%s/%s", dir, file) < 0 ||
            rn_buf_printf(&cname, "%s.dill", stored) < 0) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
        } else if (rn_task_catalog_put(req, cname.data, local.data) < 0) {
            rc = rn_error_set(RN_EIO, "return '%s': cannot store the object in the catalog: %s",
                              name, rn_error_last());
        } else {
            json_t *entry = json_pack("{s:s, s:s}", "kind", "object", "value", stored);
            if (!entry || json_object_set_new(result->returns, name, entry) < 0)
                rc = rn_error_set(RN_ENOMEM, "out of memory");
        }
        free(stored);
        rn_buf_free(&local);
        rn_buf_free(&cname);
        if (rc < 0)
            break;
    }
    free(dir);
    return rc;
}

/* Turn the driver's exit and result document into the attempt's result.
 * Returns 0 (the attempt's outcome is in `result`) or < 0 on a hard
 * error. */
static int py_collect(const rn_task_request *req, const rn_task_exit *ex, rn_task_result *result)
{
    result->returns = json_object();
    result->message[0] = '\0';
    result->success = 0;
    if (!result->returns) {
        py_cleanup(req);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    json_t *doc = NULL;
    if (ex->result_data && ex->result_len)
        doc = rn_json_loads_py(ex->result_data, ex->result_len);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    int ok = json_is_true(json_object_get(doc, "ok"));

    if (!ex->exited || ex->exit_code != 0 || !ok) {
        if (msg && *msg) {
            snprintf(result->message, sizeof result->message, "%s", msg);
        } else if (ex->exited) {
            snprintf(result->message, sizeof result->message,
                     "python exited with status %d%s", ex->exit_code,
                     ex->exit_code == 0 ? " without a result"
                     : ex->exit_code == 127 ? " (interpreter or driver not found: set "
                                              "the python setting or RUNNABLE_PYTHON)" : "");
        } else if (ex->signaled) {
            char sig[32];
            rn_signal_name(ex->term_signal, sig, sizeof sig);
            snprintf(result->message, sizeof result->message, "python killed by signal %s", sig);
        } else {
            snprintf(result->message, sizeof result->message, "python ended abnormally");
        }
        json_decref(doc);
        py_cleanup(req);
        return 0;
    }

    const json_t *rets = json_object_get(doc, "returns");
    int rc = 0;
    size_t i;
    const json_t *ret;
    json_array_foreach(req->returns, i, ret) {
        const char *name = json_string_value(json_object_get(ret, "name"));
        const char *k = py_return_kind(ret);
        if (!name || strcmp(k, "object") == 0)
            continue;
        json_t *value = json_object_get(json_object_get(rets, name), "value");
        if (!value) {
            snprintf(result->message, sizeof result->message,
                     "return '%s': the driver sent no value", name);
            json_decref(doc);
            py_cleanup(req);
            return 0;
        }
        json_t *entry = json_pack("{s:s, s:O}", "kind", k, "value", value);
        if (!entry || json_object_set_new(result->returns, name, entry) < 0) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == 0 && py_store_objects(req, json_object_get(doc, "objects"), result) < 0)
        snprintf(result->message, sizeof result->message, "%s", rn_error_last());
    else if (rc == 0)
        result->success = 1;
    json_decref(doc);
    py_cleanup(req);
    return rc;
}

#endif
