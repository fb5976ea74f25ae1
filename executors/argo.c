/*
 * The `argo` executor (spec/services.md §1.5.2, §4.9; docs/argo.md): the
 * pipeline is not run here but written out as an Argo Workflows manifest
 * (or a CronWorkflow) whose pods run `runnable execute-single-node` and
 * `runnable fan` against a run log and catalog on a shared volume.  Its
 * check() answers 1, which tells the engine to create no run log: the
 * workflow's first pod does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo.h"
#include "argo_yaml.h"

/* ------------------------------------------------------------------ */
/* Settings: runnable accepts snake_case and lowerCamelCase for every   */
/* key; the manifest uses camelCase.  Unknown keys are rejected.       */
/* ------------------------------------------------------------------ */

enum { F_STR, F_INT, F_BOOL, F_QTY, F_STRMAP, F_OBJ, F_LIST_OBJ, F_LIST_STR, F_ANYMAP };

typedef struct field {
    const char *snake, *camel;
    int kind;
    const struct field *sub;   /* F_OBJ / F_LIST_OBJ */
} field;

static const field backoff_f[] = {
    {"duration", "duration", F_QTY, NULL},
    {"factor", "factor", F_QTY, NULL},
    {"max_duration", "maxDuration", F_QTY, NULL},
    {"cap", "cap", F_QTY, NULL},
    {NULL, NULL, 0, NULL},
};
static const field retry_f[] = {
    {"limit", "limit", F_QTY, NULL},
    {"retry_policy", "retryPolicy", F_STR, NULL},
    {"back_off", "backoff", F_OBJ, backoff_f},
    {"backoff", "backoff", F_OBJ, backoff_f},
    {"expression", "expression", F_STR, NULL},
    {NULL, NULL, 0, NULL},
};
static const field toleration_f[] = {
    {"key", "key", F_STR, NULL},
    {"operator", "operator", F_STR, NULL},
    {"value", "value", F_STR, NULL},
    {"effect", "effect", F_STR, NULL},
    {"toleration_seconds", "tolerationSeconds", F_INT, NULL},
    {NULL, NULL, 0, NULL},
};
static const field env_f[] = {
    {"name", "name", F_STR, NULL},
    {"value", "value", F_QTY, NULL},
    {NULL, NULL, 0, NULL},
};
static const field resources_f[] = {
    {"limits", "limits", F_ANYMAP, NULL},
    {"requests", "requests", F_ANYMAP, NULL},
    {NULL, NULL, 0, NULL},
};
static const field defaults_f[] = {
    {"image", "image", F_STR, NULL},
    {"image_pull_policy", "imagePullPolicy", F_STR, NULL},
    {"resources", "resources", F_OBJ, resources_f},
    {"env", "env", F_LIST_OBJ, env_f},
    {"active_deadline_seconds", "activeDeadlineSeconds", F_INT, NULL},
    {"fail_fast", "failFast", F_BOOL, NULL},
    {"node_selector", "nodeSelector", F_STRMAP, NULL},
    {"parallelism", "parallelism", F_INT, NULL},
    {"retry_strategy", "retryStrategy", F_OBJ, retry_f},
    {"timeout", "timeout", F_STR, NULL},
    {"tolerations", "tolerations", F_LIST_OBJ, toleration_f},
    {NULL, NULL, 0, NULL},
};
static const field metadata_f[] = {
    {"generate_name", "generateName", F_STR, NULL},
    {"annotations", "annotations", F_STRMAP, NULL},
    {"labels", "labels", F_STRMAP, NULL},
    {"namespace", "namespace", F_STR, NULL},
    {NULL, NULL, 0, NULL},
};
static const field podgc_f[] = {
    {"strategy", "strategy", F_STR, NULL},
    {"delete_delay_duration", "deleteDelayDuration", F_STR, NULL},
    {"label_selector", "labelSelector", F_ANYMAP, NULL},
    {NULL, NULL, 0, NULL},
};
static const field spec_f[] = {
    {"active_deadline_seconds", "activeDeadlineSeconds", F_INT, NULL},
    {"node_selector", "nodeSelector", F_STRMAP, NULL},
    {"parallelism", "parallelism", F_INT, NULL},
    {"pod_gc", "podGC", F_OBJ, podgc_f},
    {"podGc", "podGC", F_OBJ, podgc_f},
    {"retry_strategy", "retryStrategy", F_OBJ, retry_f},
    {"service_account_name", "serviceAccountName", F_STR, NULL},
    {"tolerations", "tolerations", F_LIST_OBJ, toleration_f},
    {"image_pull_secrets", "imagePullSecrets", F_LIST_OBJ, NULL},
    /* Accepted as runnable does, and replaced by the generator. */
    {"arguments", "arguments", F_ANYMAP, NULL},
    {"entrypoint", "entrypoint", F_STR, NULL},
    {"template_defaults", "templateDefaults", F_ANYMAP, NULL},
    {NULL, NULL, 0, NULL},
};
static const field workflow_f[] = {
    {"metadata", "metadata", F_OBJ, metadata_f},
    {"spec", "spec", F_OBJ, spec_f},
    {NULL, NULL, 0, NULL},
};
static const field pvc_f[] = {
    {"claim_name", "claimName", F_STR, NULL},
    {"read_only", "readOnly", F_BOOL, NULL},
    {NULL, NULL, 0, NULL},
};
static const field volume_f[] = {
    {"mount_path", "mountPath", F_STR, NULL},
    {"persistent_volume_claim", "persistentVolumeClaim", F_OBJ, pvc_f},
    {NULL, NULL, 0, NULL},
};
static const field cron_f[] = {
    {"schedules", "schedules", F_LIST_STR, NULL},
    {"timezone", "timezone", F_STR, NULL},
    {"concurrency_policy", "concurrencyPolicy", F_STR, NULL},
    {"starting_deadline_seconds", "startingDeadlineSeconds", F_INT, NULL},
    {"suspend", "suspend", F_BOOL, NULL},
    {NULL, NULL, 0, NULL},
};

static const field *find_field(const field *fs, const char *key)
{
    for (const field *f = fs; f->snake; f++)
        if (strcmp(f->snake, key) == 0 || strcmp(f->camel, key) == 0)
            return f;
    return NULL;
}

static void accepted(const field *fs, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (const field *f = fs; f->snake && len + 2 < n; f++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", f->snake);
}

/* Scalars that Kubernetes and Argo want as strings ("1", "250m", "2"). */
static json_t *as_text(const json_t *v)
{
    char num[64];
    if (json_is_string(v))
        return json_incref((json_t *)v);
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return json_string(num);
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        return json_string(num);
    }
    if (json_is_boolean(v))
        return json_string(json_is_true(v) ? "true" : "false");
    return NULL;
}

static int convert(const json_t *in, const field *fs, const char *path, json_t **out);

static int convert_value(const json_t *v, const field *f, const char *path, json_t **out)
{
    *out = NULL;
    switch (f->kind) {
    case F_STR:
        if (!json_is_string(v))
            return rn_error_set(RN_EINVAL, "setting '%s' must be text", path);
        *out = json_incref((json_t *)v);
        return 0;
    case F_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return rn_error_set(RN_EINVAL, "setting '%s' must be a whole number >= 0", path);
        *out = json_incref((json_t *)v);
        return 0;
    case F_BOOL:
        if (!json_is_boolean(v))
            return rn_error_set(RN_EINVAL, "setting '%s' must be true or false", path);
        *out = json_incref((json_t *)v);
        return 0;
    case F_QTY:
        if (!(*out = as_text(v)))
            return rn_error_set(RN_EINVAL, "setting '%s' must be text or a number", path);
        return 0;
    case F_STRMAP:
    case F_ANYMAP: {
        if (!json_is_object(v))
            return rn_error_set(RN_EINVAL, "setting '%s' must be a mapping", path);
        json_t *m = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            json_t *t = f->kind == F_STRMAP ? as_text(x) : json_incref(x);
            if (!t) {
                json_decref(m);
                return rn_error_set(RN_EINVAL, "setting '%s.%s' must be text", path, k);
            }
            json_object_set_new(m, k, t);
        }
        *out = m;
        return 0;
    }
    case F_OBJ:
        if (!json_is_object(v))
            return rn_error_set(RN_EINVAL, "setting '%s' must be a mapping", path);
        return convert(v, f->sub, path, out);
    case F_LIST_STR:
    case F_LIST_OBJ: {
        if (!json_is_array(v))
            return rn_error_set(RN_EINVAL, "setting '%s' must be a list", path);
        json_t *l = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            char p[512];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            json_t *t = NULL;
            int rc = 0;
            if (f->kind == F_LIST_STR) {
                if (!json_is_string(x))
                    rc = rn_error_set(RN_EINVAL, "setting '%s' must be text", p);
                else
                    t = json_incref(x);
            } else if (!json_is_object(x)) {
                rc = rn_error_set(RN_EINVAL, "setting '%s' must be a mapping", p);
            } else if (f->sub) {
                rc = convert(x, f->sub, p, &t);
            } else {
                t = json_incref(x);
            }
            if (rc < 0) {
                json_decref(l);
                return rc;
            }
            json_array_append_new(l, t);
        }
        *out = l;
        return 0;
    }
    }
    return rn_error_set(RN_EINVAL, "setting '%s': unsupported", path);
}

static int convert(const json_t *in, const field *fs, const char *path, json_t **out)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    *out = NULL;
    json_object_foreach((json_t *)in, k, v) {
        char p[512];
        snprintf(p, sizeof p, "%s.%s", path, k);
        if (strncmp(k, "x-", 2) == 0)
            continue;
        const field *f = find_field(fs, k);
        if (!f) {
            char list[1024];
            accepted(fs, list, sizeof list);
            json_decref(o);
            return rn_error_set(RN_EINVAL, "unknown setting '%s'; accepted here: %s (or their "
                                "camelCase spellings)", p, list);
        }
        if (json_object_get(o, f->camel)) {
            json_decref(o);
            return rn_error_set(RN_EINVAL, "setting '%s' is given twice (snake_case and "
                                "camelCase); keep one", p);
        }
        json_t *c = NULL;
        int rc = convert_value(v, f, p, &c);
        if (rc < 0) {
            json_decref(o);
            return rc;
        }
        json_object_set_new(o, f->camel, c);
    }
    *out = o;
    return 0;
}

/* Top-level settings, both spellings. */
static const char *const keys[] = {
    "defaults", "argoWorkflow", "argo_workflow", "pvc_for_runnable", "pvcForRunnable",
    "custom_volumes", "customVolumes", "expose_parameters_as_inputs",
    "exposeParametersAsInputs", "secret_from_k8s", "secretFromK8s", "secrets_from_k8s",
    "secretsFromK8s", "output_file", "outputFile", "log_level", "logLevel",
    "configmap_cache_name", "configmapCacheName", "cron_schedule", "cronSchedule", "schedule",
    "overrides", "mock", "image", "parallelism", "mount_path", "mountPath", "runnable", NULL};

/* The value of a setting spelt either way; both is an error. */
static int either(const json_t *c, const char *a, const char *b, const json_t **out)
{
    const json_t *x = json_object_get(c, a), *y = b ? json_object_get(c, b) : NULL;
    if (x && y)
        return rn_error_set(RN_EINVAL, "setting '%s' is given twice ('%s' and '%s'); keep one",
                            a, a, b);
    *out = x ? x : y;
    return 0;
}

static int text_setting(const json_t *c, const char *a, const char *b, const char *def,
                        char **out)
{
    const json_t *v;
    int rc = either(c, a, b, &v);
    if (rc < 0)
        return rc;
    if (v && !json_is_null(v) && !json_is_string(v))
        return rn_error_set(RN_EINVAL, "setting '%s' must be text", a);
    const char *s = v && json_is_string(v) ? json_string_value(v) : def;
    *out = s ? strdup(s) : NULL;
    return 0;
}

/* A DNS-1123 name Argo accepts: lower case, digits, '-'. */
static int dns_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

void rn_argo_settings_free(rn_argo_settings *s)
{
    json_decref(s->defaults);
    json_decref(s->overrides);
    json_decref(s->metadata);
    json_decref(s->spec);
    json_decref(s->volumes);
    json_decref(s->mounts);
    json_decref(s->cron);
    free(s->pvc);
    free(s->mount_path);
    free(s->secret_from_k8s);
    free(s->output_file);
    free(s->log_level);
    free(s->runnable);
    memset(s, 0, sizeof *s);
}

static int parse(const json_t *c, rn_argo_settings *s)
{
    const json_t *v;
    int rc;
    /* defaults (image required, from defaults or the top-level shorthand) */
    const json_t *d = json_object_get(c, "defaults");
    if (d && !json_is_object(d))
        return rn_error_set(RN_EINVAL, "setting 'defaults' must be a mapping (image: ..., "
                            "resources: ...)");
    json_t *empty = json_object();
    rc = convert(d ? d : empty, defaults_f, "defaults", &s->defaults);
    json_decref(empty);
    if (rc < 0)
        return rc;
    const json_t *img = json_object_get(c, "image");
    if (img) {
        if (!json_is_string(img))
            return rn_error_set(RN_EINVAL, "setting 'image' must be text (the container "
                                "image with runnable in it)");
        if (json_object_get(s->defaults, "image"))
            return rn_error_set(RN_EINVAL, "the image is given twice ('image' and "
                                "'defaults.image'); keep one");
        json_object_set(s->defaults, "image", (json_t *)img);
    }
    if (!json_is_string(json_object_get(s->defaults, "image")))
        return rn_error_set(RN_EINVAL, "setting 'defaults.image' is required: the container "
                            "image that has runnable, its plugins and the pipeline's tools");
    /* overrides: name -> partial defaults */
    s->overrides = json_object();
    const json_t *ov = json_object_get(c, "overrides");
    if (ov && !json_is_object(ov))
        return rn_error_set(RN_EINVAL, "setting 'overrides' must be a mapping of names to "
                            "partial 'defaults'");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)ov, k, x) {
        char p[300];
        snprintf(p, sizeof p, "overrides.%s", k);
        if (!json_is_object(x))
            return rn_error_set(RN_EINVAL, "setting '%s' must be a mapping (image: ..., "
                                "resources: ...)", p);
        json_t *o = NULL;
        if ((rc = convert(x, defaults_f, p, &o)) < 0)
            return rc;
        json_object_set_new(s->overrides, k, o);
    }
    /* argoWorkflow: metadata + spec */
    if ((rc = either(c, "argoWorkflow", "argo_workflow", &v)) < 0)
        return rc;
    json_t *wf = NULL;
    if (v && !json_is_object(v))
        return rn_error_set(RN_EINVAL, "setting 'argoWorkflow' must be a mapping "
                            "(metadata: ..., spec: ...)");
    if (v && (rc = convert(v, workflow_f, "argoWorkflow", &wf)) < 0)
        return rc;
    json_t *md = json_object_get(wf, "metadata"), *sp = json_object_get(wf, "spec");
    s->metadata = md ? json_incref(md) : json_object();
    s->spec = sp ? json_incref(sp) : json_object();
    json_decref(wf);
    json_object_del(s->spec, "arguments");
    json_object_del(s->spec, "entrypoint");
    json_object_del(s->spec, "templateDefaults");
    const char *gn = json_string_value(json_object_get(s->metadata, "generateName"));
    if (!gn)
        json_object_set_new(s->metadata, "generateName", json_string(gn = "runnable-"));
    /* Name the settings as the user spelt them, so the error's position
     * can be found. */
    const char *wk = json_object_get(c, "argoWorkflow") ? "argoWorkflow" : "argo_workflow";
    const char *gk = json_object_get(json_object_get(json_object_get(c, wk), "metadata"),
                                     "generateName") ? "generateName" : "generate_name";
    if (!dns_name_ok(gn, 58))
        return rn_error_set(RN_EINVAL, "setting '%s.metadata.%s' is '%s':"
                            " use lower case letters, digits and '-' (at most 58 characters, "
                            "e.g. my-pipeline-)", wk, gk, gn);
    /* Top-level shorthands as runnable's own docs write them. */
    const json_t *par = json_object_get(c, "parallelism");
    if (par) {
        if (!json_is_integer(par) || json_integer_value(par) < 1)
            return rn_error_set(RN_EINVAL, "setting 'parallelism' must be a whole number >= 1 "
                                "(pods of the workflow running at once)");
        json_object_set(s->spec, "parallelism", (json_t *)par);
    }
    /* volumes */
    if ((rc = text_setting(c, "pvc_for_runnable", "pvcForRunnable", NULL, &s->pvc)) < 0 ||
        (rc = text_setting(c, "mount_path", "mountPath", "/mnt", &s->mount_path)) < 0)
        return rc;
    if (s->mount_path[0] != '/')
        return rn_error_set(RN_EINVAL, "setting 'mount_path' must be an absolute path");
    s->volumes = json_array();
    s->mounts = json_array();
    if ((rc = either(c, "custom_volumes", "customVolumes", &v)) < 0)
        return rc;
    if (v) {
        field cvf = {"custom_volumes", "customVolumes", F_LIST_OBJ, volume_f};
        json_t *cv = NULL;
        if ((rc = convert_value(v, &cvf, "custom_volumes", &cv)) < 0)
            return rc;
        size_t i;
        json_array_foreach(cv, i, x) {
            const char *mp = json_string_value(json_object_get(x, "mountPath"));
            json_t *claim = json_object_get(x, "persistentVolumeClaim");
            if (!mp || !claim || !json_object_get(claim, "claimName") || strchr(mp, '.') ||
                mp[0] != '/') {
                json_decref(cv);
                return rn_error_set(RN_EINVAL, "setting 'custom_volumes[%zu]' needs an "
                                    "absolute mount_path without '.' and "
                                    "persistent_volume_claim: {claim_name: ...}", i);
            }
            char name[64];
            snprintf(name, sizeof name, "custom-volume-%zu", i);
            json_t *ro = json_object_get(claim, "readOnly");
            json_array_append_new(s->volumes, json_pack("{s:s, s:O}", "name", name,
                                                        "persistentVolumeClaim", claim));
            json_array_append_new(s->mounts, json_pack("{s:s, s:s, s:b}", "name", name,
                                                       "mountPath", mp,
                                                       "readOnly", json_is_true(ro)));
        }
        json_decref(cv);
    }
    /* the rest */
    if ((rc = either(c, "expose_parameters_as_inputs", "exposeParametersAsInputs", &v)) < 0)
        return rc;
    if (v && !json_is_boolean(v))
        return rn_error_set(RN_EINVAL, "setting 'expose_parameters_as_inputs' must be true or "
                            "false");
    s->expose_params = !v || json_is_true(v);
    char *s1 = NULL, *s2 = NULL;
    if ((rc = text_setting(c, "secret_from_k8s", "secretFromK8s", NULL, &s1)) < 0 ||
        (rc = text_setting(c, "secrets_from_k8s", "secretsFromK8s", NULL, &s2)) < 0) {
        free(s1);
        return rc;
    }
    if (s1 && s2) {
        free(s1);
        free(s2);
        return rn_error_set(RN_EINVAL, "give 'secret_from_k8s' once (it names one Kubernetes "
                            "Secret)");
    }
    s->secret_from_k8s = s1 ? s1 : s2;
    if ((rc = text_setting(c, "output_file", "outputFile", "argo-pipeline.yaml",
                           &s->output_file)) < 0 ||
        (rc = text_setting(c, "log_level", "logLevel", "INFO", &s->log_level)) < 0 ||
        (rc = text_setting(c, "runnable", NULL, "runnable", &s->runnable)) < 0)
        return rc;
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL",
                                         "FATAL", NULL};
    int lv_ok = 0;
    for (int i = 0; levels[i]; i++)
        lv_ok |= strcmp(s->log_level, levels[i]) == 0;
    if (!lv_ok)
        return rn_error_set(RN_EINVAL, "setting 'log_level' is '%s': use DEBUG, INFO, WARNING, "
                            "ERROR or CRITICAL", s->log_level);
    char *cache = NULL;
    if ((rc = text_setting(c, "configmap_cache_name", "configmapCacheName", NULL, &cache)) < 0)
        return rc;
    free(cache);   /* accepted; this executor does not memoize (docs/argo.md) */
    const json_t *mock = json_object_get(c, "mock");
    if (mock && !json_is_boolean(mock))
        return rn_error_set(RN_EINVAL, "setting 'mock' must be true or false");
    /* cron */
    if ((rc = either(c, "cron_schedule", "cronSchedule", &v)) < 0)
        return rc;
    const json_t *sched = json_object_get(c, "schedule");
    if (v && sched)
        return rn_error_set(RN_EINVAL, "give 'cron_schedule' or 'schedule', not both");
    if (v) {
        field cf = {"cron_schedule", "cronSchedule", F_OBJ, cron_f};
        if ((rc = convert_value(v, &cf, "cron_schedule", &s->cron)) < 0)
            return rc;
    } else if (sched) {
        if (json_is_string(sched))
            s->cron = json_pack("{s:[O]}", "schedules", sched);
        else if (json_is_array(sched))
            s->cron = json_pack("{s:O}", "schedules", sched);
        else
            return rn_error_set(RN_EINVAL, "setting 'schedule' must be a cron expression or "
                                "a list of them");
    }
    if (s->cron) {
        json_t *l = json_object_get(s->cron, "schedules");
        size_t i;
        if (!json_is_array(l) || json_array_size(l) == 0)
            return rn_error_set(RN_EINVAL, "setting 'cron_schedule.schedules' needs at least "
                                "one cron expression, like \"0 2 * * *\"");
        json_array_foreach(l, i, x)
            if (!json_is_string(x))
                return rn_error_set(RN_EINVAL, "setting 'cron_schedule.schedules[%zu]' must "
                                    "be text", i);
        if (strlen(gn) - (gn[strlen(gn) - 1] == '-') > 52)
            return rn_error_set(RN_EINVAL, "a CronWorkflow is named after generate_name '%s', "
                                "which must then be at most 52 characters", gn);
    }
    return 0;
}

/* Values Argo's schema allows, checked here so the error names the
 * setting instead of surfacing at submission. */
static int enum_ok(const json_t *o, const char *key, const char *const *allowed,
                   const char *where)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v)
        return 0;
    char list[256] = "";
    size_t len = 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(*a, v) == 0)
            return 0;
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", *a);
    }
    return rn_error_set(RN_EINVAL, "setting '%s' is '%s': use one of %s", where, v, list);
}

static int check_defaults(const json_t *d, const char *where)
{
    static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
    static const char *const policy[] = {"Always", "OnFailure", "OnError", "OnTransientError",
                                         NULL};
    char w[300];
    snprintf(w, sizeof w, "%s.image_pull_policy", where);
    int rc = enum_ok(d, "imagePullPolicy", pull, w);
    snprintf(w, sizeof w, "%s.retry_strategy.retry_policy", where);
    if (rc == 0)
        rc = enum_ok(json_object_get(d, "retryStrategy"), "retryPolicy", policy, w);
    return rc;
}

int rn_argo_settings_parse(const json_t *config, rn_argo_settings *out)
{
    memset(out, 0, sizeof *out);
    json_t *empty = json_object();
    int rc = parse(config ? config : empty, out);
    json_decref(empty);
    if (rc == 0)
        rc = check_defaults(out->defaults, "defaults");
    const char *k;
    json_t *o;
    json_object_foreach(out->overrides, k, o) {
        char w[300];
        snprintf(w, sizeof w, "overrides.%s", k);
        if (rc == 0)
            rc = check_defaults(o, w);
    }
    if (rc < 0)
        rn_argo_settings_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The plugin                                                          */
/* ------------------------------------------------------------------ */

typedef struct argo_executor {
    rn_argo_settings s;
} argo_executor;

static int argo_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    argo_executor *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = rn_argo_settings_parse(config, &x->s);
    if (rc < 0) {
        free(x);
        return rc;
    }
    *self = x;
    return 0;
}

static void argo_destroy(void *self)
{
    argo_executor *x = self;
    if (!x)
        return;
    rn_argo_settings_free(&x->s);
    free(x);
}

static void input_of(const rn_engine *engine, rn_argo_input *in)
{
    in->dag = rn_engine_dag(engine);
    in->pipeline_file = rn_engine_pipeline_file(engine);
    in->config_file = rn_engine_config_file(engine);
    in->parameters = rn_engine_parameters(engine);
}

/* 1: the engine must not create a run (the workflow's first pod does). */
static int argo_check(void *self, const rn_engine *engine)
{
    argo_executor *x = self;
    rn_argo_input in;
    input_of(engine, &in);
    int rc = rn_argo_check(&x->s, &in);
    return rc < 0 ? rc : 1;
}

/* stop_on_first_failure has no Argo form that still records the failure
 * (a DAG's failFast keeps the graph's `fail` task from starting too, and
 * the run log would stay PROCESSING): the manifest runs such a graph as
 * if the key were false, and says so for each graph that sets it. */
static int warn_stop_first(const json_t *graph, const char *where, void *data)
{
    rn_engine *engine = data;
    if (json_is_true(json_object_get(graph, "stop_on_first_failure")))
        rn_engine_log(engine, 30, "%s: %s sets stop_on_first_failure, which the Argo manifest "
                      "does not express: Argo runs that graph as if it were false (docs/argo.md)",
                      rn_engine_pipeline_file(engine), where);
    return 0;
}

static int argo_run(void *self, rn_engine *engine)
{
    argo_executor *x = self;
    rn_argo_input in;
    input_of(engine, &in);
    rn_argo_each_graph(in.dag, warn_stop_first, engine);
    json_t *doc = NULL;
    int rc = rn_argo_generate(&x->s, &in, &doc);
    if (rc < 0)
        return rc;
    rn_buf b = {0};
    rc = rn_argo_yaml_emit(&b, doc);
    json_decref(doc);
    const char *path = rn_engine_output_file(engine);
    if (!path)
        path = x->s.output_file;
    /* The manifest's folder is made as needed, like any output file. */
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (rc == 0 && rn_mkdir_p(dir, 0777) < 0)
            rc = rn_error_set(RN_EIO, "cannot create the folder of %s: %s", path,
                              rn_error_last());
    }
    free(dir);
    if (rc == 0 && rn_write_file_atomic(path, b.data, b.len, 0) < 0)
        rc = rn_error_set(RN_EIO, "cannot write the Argo manifest to %s: %s", path,
                          rn_error_last());
    rn_buf_free(&b);
    return rc;
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = argo_create,
    .destroy = argo_destroy,
    .run_pipeline = argo_run,
    .check = argo_check,
};

RN_PLUGIN_DESCRIPTOR(executor_argo) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "argo",
    .version = PACKAGE_VERSION,
    .summary = "writes an Argo Workflows manifest whose pods run the steps",
    .config_keys = keys,
    .ops = &ops,
};
