/*
 * The `local` executor: the whole pipeline runs in this process with the
 * engine's scheduler; tasks are child processes.
 */
#include "config.h"

#include <stdlib.h>

#include "runnable/plugin.h"

typedef struct local_executor {
    rn_traverse_opts opts;
} local_executor;

static int local_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    int parallel = 0, serialise = 1;
    long long max_parallel = 0;
    int rc;
    double grace = 5;
    const json_t *g = json_object_get(config, "kill_grace");
    if (g && (!json_is_number(g) || json_number_value(g) <= 0))
        return rn_error_set(RN_EINVAL, "setting 'kill_grace' must be a number of seconds "
                                       "above 0 (the wait between SIGTERM and SIGKILL)");
    if (g)
        grace = json_number_value(g);
    if ((rc = rn_config_bool(config, "enable_parallel", 0, &parallel)) < 0 ||
        (rc = rn_config_int(config, "max_parallel", 0, &max_parallel)) < 0 ||
        (rc = rn_config_bool(config, "object_serialisation", 1, &serialise)) < 0)
        return rc;
    if (max_parallel < 0)
        return rn_error_set(RN_EINVAL, "setting 'max_parallel' must be at least 1 (or 0 for "
                                       "the number of CPUs)");
    json_t *ov = json_object_get(config, "overrides");
    if (ov && !json_is_object(ov))
        return rn_error_set(RN_EINVAL, "setting 'overrides' must be a mapping of names to "
                                       "settings");
    local_executor *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    x->opts.version = 2;
    x->opts.enable_parallel = parallel;
    x->opts.max_parallel = (int)max_parallel;
    x->opts.kill_grace = grace;
    *self = x;
    return 0;
}

static void local_destroy(void *self)
{
    free(self);
}

static int local_run(void *self, rn_engine *engine)
{
    local_executor *x = self;
    return rn_engine_traverse(engine, &x->opts);
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = local_create,
    .destroy = local_destroy,
    .run_pipeline = local_run,
};

static const char *const keys[] = {"enable_parallel", "max_parallel", "object_serialisation",
                                   "overrides", "kill_grace", NULL};

RN_PLUGIN_DESCRIPTOR(executor_local) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "local",
    .version = PACKAGE_VERSION,
    .summary = "runs the pipeline on this machine, tasks as child processes",
    .config_keys = keys,
    .ops = &ops,
};
