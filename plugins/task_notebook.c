/*
 * command_type: notebook (spec/pipeline-format.md §2.5).
 *
 * The notebook runs in a child interpreter (setting 'python' or RUNNABLE_PYTHON) through the
 * driver plugins/python/runnable_task.py with nbclient and an ipykernel
 * kernel of that same interpreter (runnable uses ploomber-engine, which
 * Debian does not have).  The json and metric parameters and the map
 * variables are injected as a cell (after a cell tagged `parameters`, else
 * first); returns are read from the kernel's namespace after the last cell.
 * The executed notebook is written next to the source as
 * `<stem>-<tag>_out.ipynb`, as runnable names it, and put into the catalog
 * under the same relative path.
 */
#include "config.h"

#include "task_py_common.h"

static int notebook_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    return py_plugin_create(self, config);
}

static void notebook_destroy(void *self)
{
    py_plugin_destroy(self);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int notebook_validate(void *self, const json_t *task)
{
    (void)self;
    const char *start;
    size_t len;
    int rc = py_task_command(task, "the path of a notebook (.ipynb)", &start, &len);
    if (rc < 0)
        return rc;
    if (!ends_with(start, len, ".ipynb"))
        return rn_error_set(RN_EINVAL, "command: '%.*s' is not a notebook: the path must end "
                            "in .ipynb", (int)(len > 200 ? 200 : len), start);
    return py_validate_returns(task, PY_TASK_NOTEBOOK);
}

/*
 * runnable's name for the executed notebook: `<dir>/<stem>-<tag>_out.ipynb`
 * where the tag is `<iterate_as>_<str(value)>_` for each map variable, then
 * the step's name, with every non-alphanumeric character removed.
 */
static char *notebook_out_path(const rn_task_request *req)
{
    const char *start;
    size_t len;
    py_trim(req->command ? req->command : "", &start, &len);
    rn_buf raw = { 0 }, out = { 0 };
    int rc = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)req->map_variables, k, v) {
        char *s = rn_py_str(v);
        rc |= s ? rn_buf_printf(&raw, "%s_%s_", k, s) : RN_ENOMEM;
        free(s);
    }
    const char *in = req->internal_name ? req->internal_name : "";
    const char *dot = strrchr(in, '.');
    const char *step = dot ? dot + 1 : in;
    rc |= rn_buf_append(&raw, step, strlen(step));

    size_t base = len;
    while (base > 0 && start[base - 1] != '/')
        base--;
    size_t stem_len = len - base - strlen(".ipynb");
    rc |= rn_buf_append(&out, start, base);
    rc |= rn_buf_append(&out, start + base, stem_len);
    rc |= rn_buf_append(&out, "-", 1);
    for (size_t i = 0; !rc && raw.data && i < raw.len; i++) {
        char c = raw.data[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            rc |= rn_buf_append(&out, &c, 1);
    }
    rc |= rn_buf_append(&out, "_out.ipynb", 10);
    rn_buf_free(&raw);
    if (rc) {
        rn_buf_free(&out);
        return NULL;
    }
    return out.data;
}

/* Its name in the catalog: the same relative path ("./" dropped); the
 * file name alone for a notebook outside the working folder. */
static const char *catalog_name(const char *out)
{
    while (strncmp(out, "./", 2) == 0)
        out += 2;
    if (out[0] == '/' || strstr(out, "../") || strncmp(out, "..", 2) == 0) {
        const char *slash = strrchr(out, '/');
        return slash ? slash + 1 : out;
    }
    return out;
}

static int notebook_prepare(void *self, const rn_task_request *req, rn_launch *launch)
{
    char *out = notebook_out_path(req);
    json_t *extra = out ? json_pack("{s:s}", "notebook_out", out) : NULL;
    free(out);
    if (!extra)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = py_prepare(self, req, launch, PY_TASK_NOTEBOOK, extra);
    json_decref(extra);
    return rc;
}

static int notebook_collect(void *self, const rn_task_request *req, const rn_task_exit *ex,
                            rn_task_result *result)
{
    (void)self;
    int rc = py_collect(req, ex, result);
    if (rc < 0)
        return rc;
    /* The executed notebook is kept whatever the outcome: after a failure
     * it shows where and why. */
    char *out = notebook_out_path(req);
    if (!out)
        return rn_error_set(RN_ENOMEM, "out of memory");
    rn_buf local = { 0 };
    if (out[0] == '/' || !req->work_dir)
        rc = rn_buf_append(&local, out, strlen(out) + 1);
    else
        rc = rn_buf_printf(&local, "%s/%s", req->work_dir, out);
    struct stat st;
    int prc = 0;
    if (rc == 0 && stat(local.data, &st) == 0 && S_ISREG(st.st_mode))
        prc = rn_task_catalog_put(req, catalog_name(out), local.data);
    /* A run without catalog I/O (a patched step of a test run) keeps the
     * notebook next to its source only. */
    if (prc < 0 && prc != RN_EUNSUPPORTED && result->success) {
        result->success = 0;
        snprintf(result->message, sizeof result->message,
                 "cannot store the executed notebook %s in the catalog: %s", out,
                 rn_error_last());
    }
    rn_buf_free(&local);
    free(out);
    return rc < 0 ? rn_error_set(RN_ENOMEM, "out of memory") : 0;
}

static const rn_task_ops notebook_ops = {
    .version = RN_TASK_OPS_VERSION,
    .create = notebook_create,
    .destroy = notebook_destroy,
    .validate = notebook_validate,
    .prepare = notebook_prepare,
    .collect = notebook_collect,
};

RN_PLUGIN_DESCRIPTOR(task_notebook) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_TASK,
    .type_name = "notebook",
    .version = PACKAGE_VERSION,
    .summary = "execute a Jupyter notebook with nbclient in a child Python (setting 'python' or RUNNABLE_PYTHON); "
               "parameters injected as a cell, returns read from its namespace",
    .config_keys = py_config_keys,
    .ops = &notebook_ops,
};
