/*
 * The `local-container` executor (spec/services.md §4.8, DESIGN §2): the
 * engine traverses the pipeline on this machine and every task attempt
 * runs `runnable execute-single-node` in a container of its own, through
 * the docker or podman command line.  The working folder is mounted at
 * the same path and is the container's working folder, so the pipeline,
 * the configuration, the run log (chunked-fs for side-by-side steps), the
 * catalog and a dotenv file are where the host has them; no path is
 * rewritten.  A failed step is an ordinary failure: on_failure is
 * followed (runnable aborted the run).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnable/plugin.h"

typedef struct container_executor {
    rn_traverse_opts opts;
    char cli[PATH_MAX];        /* docker or podman, resolved */
    json_t *config;            /* the settings (owned copy) */
} container_executor;

/* A program of that name on PATH, into out (PATH_MAX bytes). */
static int on_path(const char *name, char *out)
{
    return rn_find_program(name, getenv("PATH"), NULL, out) == 0;
}

/* Settings a step's override may change, checked the same way for the
 * executor's own settings and for every override. */
static int check_settings(const json_t *s, const char *where)
{
    const json_t *img = json_object_get(s, "docker_image");
    if (img && (!json_is_string(img) || !*json_string_value(img)))
        return rn_error_set(RN_EINVAL, "%s'docker_image' must be the name of an image",
                            where);
    const json_t *env = json_object_get(s, "environment");
    const char *k;
    json_t *v;
    if (env && !json_is_object(env))
        return rn_error_set(RN_EINVAL, "%s'environment' must be a mapping of variable names "
                            "to text", where);
    json_object_foreach((json_t *)env, k, v)
        if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
            return rn_error_set(RN_EINVAL, "%s'environment': the value of %s must be text",
                                where, k);
    const json_t *ar = json_object_get(s, "auto_remove_container");
    if (ar && !json_is_boolean(ar))
        return rn_error_set(RN_EINVAL, "%s'auto_remove_container' must be true or false",
                            where);
    static const char *const lists[] = {"run_args", "cli_args"};
    for (size_t n = 0; n < 2; n++) {
        const json_t *ra = json_object_get(s, lists[n]);
        size_t i;
        if (ra && !json_is_array(ra))
            return rn_error_set(RN_EINVAL, "%s'%s' must be a list of arguments", where,
                                lists[n]);
        json_array_foreach(ra, i, v)
            if (!json_is_string(v))
                return rn_error_set(RN_EINVAL, "%s'%s' must hold text only", where, lists[n]);
    }
    return 0;
}

/* The step's settings: the executor's, with its override's keys over them
 * (spec §4.2: a node names an override under `overrides: {local-container:
 * NAME}`). */
static int effective(const container_executor *x, const rn_node_job *job, json_t **out)
{
    *out = json_copy(x->config);
    const char *name = json_string_value(json_object_get(job->overrides, "local-container"));
    if (!name)
        return 0;
    const json_t *ov = json_object_get(json_object_get(x->config, "overrides"), name);
    if (!ov)
        return rn_error_set(RN_EINVAL, "step %s asks for override '%s', which the "
                            "local-container settings do not define under 'overrides'",
                            job->internal_name, name);
    json_object_update(*out, (json_t *)ov);
    return 0;
}

static int add(rn_launch *l, const char *a, const char *b)
{
    int rc = rn_launch_add_arg(l, a);
    if (rc == 0 && b)
        rc = rn_launch_add_arg(l, b);
    return rc;
}

static int value_text(const json_t *v, char *out, size_t n)
{
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, n, "%g", json_number_value(v));
    return 0;
}

/* A file the step reads from outside the working folder (the pipeline, the
 * configuration): its folder is mounted where it is, read-only. */
static int mount_folder_of(rn_launch *l, const char *work_dir, const char *file)
{
    size_t wl = strlen(work_dir);
    if (!file || (strncmp(file, work_dir, wl) == 0 && file[wl] == '/'))
        return 0;
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    char buf[2 * PATH_MAX + 8];
    snprintf(buf, sizeof buf, "%.*s:%.*s:ro", (int)(slash - file), file, (int)(slash - file),
             file);
    return add(l, "-v", buf);
}

static int container_launch(void *data, const rn_node_job *job, rn_launch *l)
{
    container_executor *x = data;
    json_t *s = NULL;
    int rc = effective(x, job, &s);
    const char *image = json_string_value(json_object_get(s, "docker_image"));
    if (rc == 0 && !image)
        rc = rn_error_set(RN_EINVAL, "no docker_image for step %s", job->internal_name);
    char buf[8192];
    size_t i;
    json_t *v;
    if (rc == 0)
        rc = add(l, x->cli, NULL);
    /* The runtime's own options (podman --runtime runc ...), then `run`. */
    json_array_foreach(json_object_get(s, "cli_args"), i, v)
        if (rc == 0)
            rc = add(l, json_string_value(v), NULL);
    if (rc == 0)
        rc = add(l, "run", NULL);
    if (rc == 0 && !json_is_false(json_object_get(s, "auto_remove_container")))
        rc = add(l, "--rm", NULL);
    /* The working folder where the host has it, and as the working folder. */
    if (rc == 0) {
        snprintf(buf, sizeof buf, "%s:%s", job->work_dir, job->work_dir);
        rc = add(l, "-v", buf);
    }
    if (rc == 0)
        rc = add(l, "-w", job->work_dir);
    if (rc == 0)
        rc = mount_folder_of(l, job->work_dir, job->pipeline_file);
    if (rc == 0 && job->config_file &&
        strncmp(job->config_file, job->pipeline_file, strrchr(job->pipeline_file, '/') -
                job->pipeline_file + 1) != 0)
        rc = mount_folder_of(l, job->work_dir, job->config_file);
    /* What the engine tells every task, and what the settings add. */
    static const char *const pass[] = {"RUNNABLE_RUN_ID", "RUNNABLE_RUN_TAG",
                                       "RUNNABLE_PLUGIN_PATH", "RUNNABLE_RETRY_INDICATOR",
                                       NULL};
    for (size_t i = 0; rc == 0 && pass[i]; i++)
        if (getenv(pass[i]))
            rc = add(l, "-e", pass[i]);
    const char *k;
    json_object_foreach(json_object_get(s, "environment"), k, v) {
        char val[4096];
        value_text(v, val, sizeof val);
        snprintf(buf, sizeof buf, "%s=%s", k, val);
        if (rc == 0)
            rc = add(l, "-e", buf);
    }
    json_array_foreach(json_object_get(s, "run_args"), i, v)
        if (rc == 0)
            rc = add(l, json_string_value(v), NULL);
    if (rc == 0)
        rc = add(l, image, NULL);
    const char *inside = json_string_value(json_object_get(s, "runnable"));
    if (rc == 0)
        rc = rn_launch_add_node_command(l, inside ? inside : "runnable", job);
    json_decref(s);
    return rc;
}

static int container_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    container_executor *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = rn_traverse_opts_parse(config, &x->opts);
    if (rc == 0 && !json_is_string(json_object_get(config, "docker_image")))
        rc = rn_error_set(RN_EINVAL, "setting 'docker_image' is required: the image every "
                                     "task step runs in (it must hold runnable and its "
                                     "plugins)");
    if (rc == 0)
        rc = check_settings(config, "setting ");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(config, "overrides"), k, v) {
        char where[256];
        snprintf(where, sizeof where, "override '%s': ", k);
        if (rc == 0 && !json_is_object(v))
            rc = rn_error_set(RN_EINVAL, "%smust be a mapping of settings", where);
        if (rc == 0)
            rc = check_settings(v, where);
    }
    const json_t *cli = json_object_get(config, "container_cli");
    if (rc == 0 && cli && !json_is_string(cli))
        rc = rn_error_set(RN_EINVAL, "setting 'container_cli' must be docker or podman (or "
                                     "the path of either)");
    if (rc == 0 && cli && !on_path(json_string_value(cli), x->cli))
        rc = rn_error_set(RN_EINVAL, "setting 'container_cli': %s is not installed (not "
                                     "found on PATH)", json_string_value(cli));
    /* Podman first: it needs no daemon, and a docker CLI without one is
     * common. */
    if (rc == 0 && !cli && !on_path("podman", x->cli) &&
        !on_path("docker", x->cli))
        rc = rn_error_set(RN_EINVAL, "neither podman nor docker is on PATH: install one (apt-get "
                                     "install podman) or set 'container_cli'");
    if (rc < 0) {
        free(x);
        return rc;
    }
    x->config = json_deep_copy(config);
    x->opts.node_launch = container_launch;
    x->opts.node_data = x;
    *self = x;
    return 0;
}

static void container_destroy(void *self)
{
    container_executor *x = self;
    if (x)
        json_decref(x->config);
    free(x);
}

static int container_run(void *self, rn_engine *engine)
{
    container_executor *x = self;
    return rn_engine_traverse(engine, &x->opts);
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = container_create,
    .destroy = container_destroy,
    .run_pipeline = container_run,
};

static const char *const keys[] = {"docker_image", "auto_remove_container", "environment",
                                   "enable_parallel", "max_parallel", "object_serialisation",
                                   "overrides", "kill_grace", "container_cli", "run_args",
                                   "cli_args", "runnable", "python", NULL};

RN_PLUGIN_DESCRIPTOR(executor_local_container) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "local-container",
    .version = PACKAGE_VERSION,
    .summary = "runs every task step in a container (docker or podman) on this machine",
    .config_keys = keys,
    .ops = &ops,
};
