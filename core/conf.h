/* The configuration file: which provider serves each service, and its
 * settings (spec/services.md §1). */
#ifndef RN_CONF_H
#define RN_CONF_H

#include <jansson.h>
#include "diag.h"

/* Services a pipeline run uses, in the order they are opened. */
enum {
    RN_SVC_EXECUTOR, RN_SVC_RUN_LOG_STORE, RN_SVC_CATALOG, RN_SVC_SECRETS,
    RN_SVC_TRACKER, RN_SVC_COUNT
};

typedef struct rn_service_config {
    char *type;          /* the `type:` value */
    json_t *settings;    /* provider settings ({} when none) */
    int line, col;       /* position of the block (0 for defaults) */
    json_t *positions;   /* setting key -> rn_yaml_pos_new() (may be NULL) */
} rn_service_config;

typedef struct rn_config {
    char *file;          /* file read, or NULL for the embedded default */
    int exported;        /* 1 if chosen by env or -c (exported to children) */
    rn_service_config svc[RN_SVC_COUNT];
    /* `tasks:` settings per command type (type = the command type);
     * command types not named there get {} */
    rn_service_config *tasks;
    size_t n_tasks;
    rn_diag warnings;    /* accepted, but worth telling the user */
} rn_config;

/* Plugin kind serving service `svc`, and the config key naming it. */
int rn_service_kind(int svc);
const char *rn_service_key(int svc);

/* Choose the file (RUNNABLE_CONFIGURATION_FILE, then `explicit_path`, then
 * ./runnable-config.yaml, else the embedded default), read it, apply
 * RUNNABLE_VAR_* templating and check its shape.  Problems go to diag. */
int rn_config_load(const char *explicit_path, rn_diag *diag, rn_config **out);
/* Where a provider's error about "setting 'a.b[0]'" points: the deepest
 * of those settings with a known position, else the service block. */
void rn_config_setting_pos(const rn_service_config *s, const char *msg, int *line, int *col);
void rn_config_free(rn_config *c);

/* Check a provider's settings against the keys its descriptor accepts. */
void rn_config_check_keys(const rn_config *c, int svc, const char *const *accepted,
                          rn_diag *diag);
/* The `tasks:` block of a command type, or NULL when it has none. */
const rn_service_config *rn_config_task(const rn_config *c, const char *command_type);
/* Check a task type's settings (`tasks.<type>.config`) the same way. */
void rn_config_check_task_keys(const rn_config *c, const rn_service_config *t,
                               const char *const *accepted, rn_diag *diag);

#endif
