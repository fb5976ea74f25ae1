/*
 * The `mocked` executor (runnable's test runs, spec/services.md §4.6):
 * the pipeline is traversed as `local` does, but every task and stub
 * succeeds without running unless `patches` names it; a patched task runs
 * for real with the patch's fields over its own.  No catalog I/O, and the
 * steps are recorded with `mock: true` (DESIGN §2).
 */
#include "config.h"

#include <stdlib.h>

#include "runnable/plugin.h"

typedef struct mocked_executor {
    rn_traverse_opts opts;
    json_t *patches;
} mocked_executor;

static int mocked_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    json_t *patches = json_object_get(config, "patches");
    if (patches && !json_is_null(patches) && !json_is_object(patches))
        return rn_error_set(RN_EINVAL, "setting 'patches' must be a mapping of step names to "
                                       "the task fields to use instead");
    const char *name;
    json_t *p;
    json_object_foreach(patches, name, p) {
        if (!json_is_object(p))
            return rn_error_set(RN_EINVAL, "patch '%s' must be a mapping of task fields "
                                           "(command: ..., returns: ...)", name);
        json_t *c = json_object_get(p, "command");
        if (c && !json_is_string(c))
            return rn_error_set(RN_EINVAL, "patch '%s': 'command' must be text", name);
        json_t *r = json_object_get(p, "returns");
        if (r && !json_is_array(r))
            return rn_error_set(RN_EINVAL, "patch '%s': 'returns' must be a list", name);
    }
    int parallel = 0;
    long long max_parallel = 0;
    int rc;
    if ((rc = rn_config_bool(config, "enable_parallel", 0, &parallel)) < 0 ||
        (rc = rn_config_int(config, "max_parallel", 0, &max_parallel)) < 0)
        return rc;
    mocked_executor *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    x->patches = patches && json_is_object(patches) ? json_incref(patches) : json_object();
    x->opts.version = 3;
    x->opts.enable_parallel = parallel;
    x->opts.max_parallel = max_parallel > 0 ? (int)max_parallel : 0;
    x->opts.mock = 1;
    x->opts.patches = x->patches;
    *self = x;
    return 0;
}

static void mocked_destroy(void *self)
{
    mocked_executor *x = self;
    if (!x)
        return;
    json_decref(x->patches);
    free(x);
}

/* A patch for a step that does not exist is a typo, caught before the run. */
static int mocked_check(void *self, const rn_engine *engine)
{
    mocked_executor *x = self;
    const char *name;
    json_t *p;
    json_object_foreach(x->patches, name, p)
        if (!rn_engine_has_step(engine, name))
            return rn_error_set(RN_EINVAL, "patch '%s' names no task or stub of the "
                                           "pipeline; patches are keyed by step name", name);
    return 0;
}

static int mocked_run(void *self, rn_engine *engine)
{
    mocked_executor *x = self;
    return rn_engine_traverse(engine, &x->opts);
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = mocked_create,
    .destroy = mocked_destroy,
    .run_pipeline = mocked_run,
    .check = mocked_check,
};

static const char *const keys[] = {"patches", "enable_parallel", "max_parallel", "python", NULL};

RN_PLUGIN_DESCRIPTOR(executor_mocked) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "mocked",
    .version = PACKAGE_VERSION,
    .summary = "test runs: steps succeed without running, except patched ones",
    .config_keys = keys,
    .ops = &ops,
};
