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
    (void)env;
    local_executor *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = rn_traverse_opts_parse(config, &x->opts);
    if (rc < 0) {
        free(x);
        return rc;
    }
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
                                   "overrides", "kill_grace", "python", NULL};

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
