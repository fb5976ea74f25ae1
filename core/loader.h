/* Plugin loader: finds "<kind>-<type>" modules and validates descriptors. */
#ifndef RN_LOADER_H
#define RN_LOADER_H

#include "runnable/plugin.h"

typedef struct rn_plugin {
    const rn_plugin_descriptor *desc;
    char *path;          /* the file that was loaded */
    void *handle;        /* lt_dlhandle */
} rn_plugin;

/* "run-log-store" for RN_KIND_RUN_LOG_STORE, ...; NULL if unknown. */
const char *rn_kind_name(int kind);
/* Inverse of rn_kind_name; 0 if unknown. */
int rn_kind_from_name(const char *name);

/* Directories searched, in order: `extra` (colon-separated, may be NULL),
 * $RUNNABLE_PLUGIN_PATH, then the install directory.  Set once by the
 * CLI's --plugin-path. */
void rn_loader_set_extra_path(const char *extra);
/* The search list as one colon-separated string (malloc'd). */
char *rn_loader_search_path(void);

/* Load provider `type` of `kind`.  Errors name the type, the kind and every
 * directory searched (missing), or the file and the reason (malformed). */
int rn_plugin_open(int kind, const char *type, rn_plugin **out);
/* Load one file and validate it; expect_kind/expect_type may be 0/NULL. */
int rn_plugin_open_file(const char *path, int expect_kind, const char *expect_type,
                        rn_plugin **out);
void rn_plugin_close(rn_plugin *p);

/* Call `fn` for every valid plugin file found on the search path (first
 * one wins per kind/type); invalid files are reported through `bad`. */
typedef void (*rn_plugin_list_fn)(const rn_plugin *p, void *data);
typedef void (*rn_plugin_bad_fn)(const char *path, const char *why, void *data);
int rn_plugin_list(rn_plugin_list_fn fn, rn_plugin_bad_fn bad, void *data);

/* A created provider instance: plugin + its `self`. */
typedef struct rn_provider {
    rn_plugin *plugin;
    const void *ops;     /* plugin->desc->ops, typed by kind */
    void *self;
} rn_provider;

/* Open `type` of `kind` and create it with `config` (may be NULL for {}). */
int rn_provider_open(int kind, const char *type, const json_t *config,
                     const rn_plugin_env *env, rn_provider **out);
/* Create a provider from plugin `p` the caller opened (to look at its
 * descriptor first); `p` is the provider's from then on, or closed on
 * failure. */
int rn_provider_start(rn_plugin *p, const json_t *config, const rn_plugin_env *env,
                      rn_provider **out);
void rn_provider_close(rn_provider *p);

#endif
