/*
 * A copy-me skeleton for runnable plugin authors.
 *
 * This is a complete, loadable experiment tracker that does nothing: every
 * part a provider needs is here, with a comment saying why it is shaped
 * that way.  To start a provider of your own:
 *
 *   1. copy this file, rename it after your provider;
 *   2. pick the kind (the vtable type and RN_KIND_* below) and the type
 *      name users will write after `type:`;
 *   3. name the built file "<kind>-<type>.so" and the descriptor after it;
 *   4. fill in the operations.
 *
 * Build it out of tree like examples/out-of-tree-plugin/ does:
 *   cc -std=c11 -fPIC -shared $(pkg-config --cflags runnable-plugin) \
 *      -o experiment-tracker-skeleton.so skeleton.c \
 *      $(pkg-config --libs runnable-plugin)
 * Inside runnable's tree it is compiled by `make check` only, so it never
 * gets installed.
 *
 * A user would select this one with:
 *   experiment_tracker:
 *     type: skeleton
 *     config:
 *       prefix: my-project
 */
#include <stdlib.h>

/* The only header a provider needs: the descriptor, the vtables, the error
 * codes and the helpers exported by librunnable (rn_config_*, rn_buf, ...). */
#include <runnable/plugin.h>

/*
 * The provider's state: everything lives here, not in globals, because the
 * engine may create several instances (one per run, or one per config in
 * tests) and may load the plugin into a multi-threaded process.
 */
struct skeleton {
    long long runs_started;
    int verbose;
};

/*
 * create(): check the settings and build the state.  The engine has already
 * rejected any key that is not in skeleton_config_keys (with the file, line
 * and column), so only types and values are left to check here.  `config`
 * is borrowed (may be NULL for "no settings"); copy what you keep, because
 * it is freed after this call.  `env` says where the engine runs.
 */
static int skeleton_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    struct skeleton *s;
    const char *prefix;
    int verbose;
    int rc;

    (void)env;
    *self = NULL;
    /* The rn_config_* helpers apply the default when the key is absent and
     * produce an error naming the key when its type is wrong. */
    rc = rn_config_string(config, "prefix", "", &prefix);
    if (rc != 0)
        return rc;
    rc = rn_config_bool(config, "verbose", 0, &verbose);
    if (rc != 0)
        return rc;
    (void)prefix; /* a real tracker would copy it (strdup) into its state */

    s = calloc(1, sizeof *s);
    if (s == NULL)
        return rn_error_set(RN_ENOMEM, "out of memory");
    s->verbose = verbose;
    *self = s;
    return 0;
}

/* destroy(): free everything create() and later calls allocated; whoever
 * allocates frees, so the engine never calls free() on `self`.  Must
 * accept NULL. */
static void skeleton_destroy(void *self)
{
    free(self);
}

/* Called once when a run starts, with the root parameters (borrowed;
 * name -> {kind, value}).  Errors are returned, never printed: set a
 * message with rn_error_set() and return its RN_E* code. */
static int skeleton_start_run(void *self, const char *run_id, const json_t *parameters)
{
    struct skeleton *s = self;
    (void)run_id;
    (void)parameters;
    s->runs_started++;
    return 0;
}

/* One metric of one step: `step` is the internal name ("map.1.train"),
 * `value` any JSON value (borrowed: json_incref() it to keep it). */
static int skeleton_log_metric(void *self, const char *run_id, const char *step,
                               const char *name, const json_t *value)
{
    (void)self;
    (void)run_id;
    (void)step;
    (void)name;
    (void)value;
    return 0;
}

/* Called once when the run ends; `status` is "SUCCESS" or "FAIL". */
static int skeleton_end_run(void *self, const char *run_id, const char *status)
{
    (void)self;
    (void)run_id;
    (void)status;
    return 0;
}

/*
 * The vtable.  `version` says which operations this table has: always set
 * it to the SDK's RN_*_OPS_VERSION you built against.  Later SDKs only
 * append operations at the end and the engine checks `version` before
 * calling one, so a plugin built today keeps working with newer engines.
 * Designated initialisers keep it right when fields are added.
 */
static const rn_tracker_ops skeleton_ops = {
    .version = RN_TRACKER_OPS_VERSION,
    .create = skeleton_create,
    .destroy = skeleton_destroy,
    .start_run = skeleton_start_run,
    .log_metric = skeleton_log_metric,
    .end_run = skeleton_end_run,
};

/*
 * config_keys: every key allowed under `config:`, NULL-terminated.  The
 * engine refuses anything else before create() runs, so a typo in a user's
 * config is an error with a position instead of a silently ignored setting.
 * Keys beginning with "x-" are always let through for user data.  Use NULL
 * (instead of this array) for a provider without settings.
 */
static const char *const skeleton_config_keys[] = {"prefix", "verbose", NULL};

/*
 * The descriptor: the only symbol the plugin exports.  Its argument is the
 * file name with every non-alphanumeric character replaced by '_'
 * ("experiment-tracker-skeleton.so" -> experiment_tracker_skeleton); the
 * macro turns it into libtool's "<module>_LTX_rn_plugin" so the same source
 * also links statically.  The engine checks magic, ABI, kind and type name
 * before calling anything, and tells the user which one did not match.
 */
RN_PLUGIN_DESCRIPTOR(experiment_tracker_skeleton) = {
    .magic = RN_PLUGIN_MAGIC,
    /* The ABI this was compiled against: the engine refuses another major
     * version and knows, from the minor, which SDK additions exist. */
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXPERIMENT_TRACKER,
    /* What users write after `type:`; must match the file name. */
    .type_name = "skeleton",
    /* Your provider's own version, shown by `runnable plugins`. */
    .version = "0.0.1",
    .summary = "do-nothing experiment tracker to copy from",
    .config_keys = skeleton_config_keys,
    .ops = &skeleton_ops,
};
