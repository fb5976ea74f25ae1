/*
 * command_type: python (spec/pipeline-format.md §2.4), the default type.
 *
 * The function runs in a child interpreter (RUNNABLE_PYTHON, default
 * `python3` on PATH) started with the driver plugins/python/runnable_task.py;
 * nothing of Python lives in the engine.  Parameters are bound by name and
 * cast by the function's annotations in the child; returns come back on the
 * private result descriptor; `object` returns are pickled by the child and
 * stored in the catalog here (task_py_common.h, docs/python-tasks.md).
 */
#include "config.h"

#include "task_py_common.h"

static int python_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    return py_plugin_create(self, config);
}

static void python_destroy(void *self)
{
    py_plugin_destroy(self);
}

/* `package.module.function`: at least one dot, every segment an
 * identifier (runnable imports the module and takes the attribute). */
static int is_dotted_path(const char *s, size_t n)
{
    int segments = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (j == i)
            return 0;
        char seg[256];
        if (j - i >= sizeof seg)
            return 0;
        memcpy(seg, s + i, j - i);
        seg[j - i] = '\0';
        if (!rn_is_identifier(seg))
            return 0;
        segments++;
        i = j + 1;
    }
    return segments >= 2;
}

static int python_validate(void *self, const json_t *task)
{
    (void)self;
    const char *start;
    size_t len;
    int rc = py_task_command(task, "the dotted path of a Python function "
                                   "(package.module.function)", &start, &len);
    if (rc < 0)
        return rc;
    if (!is_dotted_path(start, len))
        return rn_error_set(RN_EINVAL, "command: '%.*s' is not a dotted path to a Python "
                            "function (package.module.function); for a shell command set "
                            "command_type: shell", (int)(len > 200 ? 200 : len), start);
    return py_validate_returns(task, PY_TASK_PYTHON);
}

static int python_prepare(void *self, const rn_task_request *req, rn_launch *launch)
{
    return py_prepare(self, req, launch, PY_TASK_PYTHON, NULL);
}

static int python_collect(void *self, const rn_task_request *req, const rn_task_exit *ex,
                          rn_task_result *result)
{
    (void)self;
    return py_collect(req, ex, result);
}

static const rn_task_ops python_ops = {
    .version = RN_TASK_OPS_VERSION,
    .create = python_create,
    .destroy = python_destroy,
    .validate = python_validate,
    .prepare = python_prepare,
    .collect = python_collect,
};

RN_PLUGIN_DESCRIPTOR(task_python) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_TASK,
    .type_name = "python",
    .version = PACKAGE_VERSION,
    .summary = "call package.module.function in a child Python (setting 'python' or RUNNABLE_PYTHON); arguments "
               "bound by name, returns json/metric/object",
    .config_keys = py_config_keys,
    .ops = &python_ops,
};
