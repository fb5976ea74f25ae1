/*
 * The `emulator` executor (runnable's of the same name, spec/services.md
 * §4.7): the engine traverses the pipeline here, and every task attempt
 * runs in a fresh `runnable execute-single-node` process of its own, as
 * in a container or on a cluster, but on this machine with this binary.
 * It exercises the node protocol end to end without a container runtime,
 * and is the base the container and cluster executors build on.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnable/plugin.h"

typedef struct emulator {
    rn_traverse_opts opts;
    char runnable[PATH_MAX];   /* the binary the steps run */
} emulator;

static int emulator_launch(void *data, const rn_node_job *job, rn_launch *l)
{
    emulator *x = data;
    return rn_launch_add_node_command(l, x->runnable, job);
}

static int emulator_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    emulator *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = rn_traverse_opts_parse(config, &x->opts);
    const json_t *bin = json_object_get(config, "runnable");
    if (rc == 0 && bin && !json_is_string(bin))
        rc = rn_error_set(RN_EINVAL, "setting 'runnable' must be the path of the runnable "
                                     "program the steps run");
    if (rc == 0 && bin) {
        snprintf(x->runnable, sizeof x->runnable, "%s", json_string_value(bin));
    } else if (rc == 0) {
        /* This very program: the steps run the engine that runs them. */
        ssize_t n = readlink("/proc/self/exe", x->runnable, sizeof x->runnable - 1);
        if (n <= 0)
            rc = rn_error_set(RN_EINVAL, "cannot tell which program this is; set 'runnable' "
                                         "to the path of the runnable program");
        else
            x->runnable[n] = '\0';
    }
    if (rc < 0) {
        free(x);
        return rc;
    }
    x->opts.node_launch = emulator_launch;
    x->opts.node_data = x;
    *self = x;
    return 0;
}

static void emulator_destroy(void *self)
{
    free(self);
}

static int emulator_run(void *self, rn_engine *engine)
{
    emulator *x = self;
    return rn_engine_traverse(engine, &x->opts);
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = emulator_create,
    .destroy = emulator_destroy,
    .run_pipeline = emulator_run,
};

static const char *const keys[] = {"enable_parallel", "max_parallel", "object_serialisation",
                                   "overrides", "kill_grace", "runnable", "python", NULL};

RN_PLUGIN_DESCRIPTOR(executor_emulator) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "emulator",
    .version = PACKAGE_VERSION,
    .summary = "runs every task step in a runnable execute-single-node process of its own",
    .config_keys = keys,
    .ops = &ops,
};
