/*
 * catalog "do-nothing": a catalog that keeps no data.  get() and put()
 * succeed and record nothing, as runnable's do-nothing catalog returns
 * empty lists; put_file() drops the file.  Patterns are still checked so a
 * pipeline that is invalid with a real catalog is invalid here too.
 */
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"

/* The provider has no state; one byte stands in for it so that `self` is
 * never NULL, which a caller might reasonably treat as "not created". */
struct dn_catalog {
    char unused;
};

static const char *const dn_config_keys[] = {"compute_data_folder", NULL};

static int dn_has_dotdot(const char *path)
{
    const char *s = path;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

static int dn_check_pattern(const char *op, const char *pattern)
{
    if (!pattern || !pattern[0])
        return rn_error_set(RN_EINVAL, "catalog %s: empty pattern", op);
    if (pattern[0] == '/' || dn_has_dotdot(pattern))
        return rn_error_set(RN_EINVAL,
                            "catalog %s: pattern '%s' must be relative to the compute data "
                            "folder and must not contain '..'", op, pattern);
    return 0;
}

static int dn_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    /* Accepted for compatibility and type-checked, but unused: nothing is
     * ever read from or written to it. */
    const char *data;
    int rc = rn_config_string(config, "compute_data_folder", ".", &data);
    if (rc < 0)
        return rc;
    struct dn_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *self = c;
    return 0;
}

static void dn_destroy(void *self)
{
    free(self);
}

static int dn_get(void *self, const char *run_id, const char *pattern, json_t *entries)
{
    return dn_check_pattern("get", pattern);
}

static int dn_put(void *self, const char *run_id, const char *pattern, int allow_missing,
                  int store_copy, json_t *entries)
{
    return dn_check_pattern("put", pattern);
}

static int dn_put_file(void *self, const char *run_id, const char *local_path, const char *name)
{
    return 0;
}

static int dn_locate(void *self, const char *run_id, const char *name, char **out_path)
{
    *out_path = NULL;
    return rn_error_set(RN_EUNSUPPORTED, "the do-nothing catalog keeps no files ('%s')",
                        name ? name : "(null)");
}

static const rn_catalog_ops dn_ops = {
    .version = RN_CATALOG_OPS_VERSION,
    .create = dn_create,
    .destroy = dn_destroy,
    .get = dn_get,
    .put = dn_put,
    .put_file = dn_put_file,
    .locate = dn_locate,
};

RN_PLUGIN_DESCRIPTOR(catalog_do_nothing) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_CATALOG,
    .type_name = "do-nothing",
    .version = "0.1.0",
    .summary = "catalog that stores nothing and records nothing",
    .config_keys = dn_config_keys,
    .ops = &dn_ops,
};
