/*
 * The argo executor's manifest generator (docs/argo.md).
 *
 * Layout of the manifest:
 *   - a `next`-graph (start_at/next/on_failure) becomes a `steps` template
 *     with one step per node in topological order; each step's `when`
 *     says which outcome of which earlier step leads to it, and failable
 *     steps carry continueOn.failed so the template goes on to the
 *     on_failure target or the graph's `fail` step.  Steps templates have
 *     no 200-task bound, so a 1,000-step chain is one template.
 *   - a depends_on graph becomes a `dag` template (`depends` expressions),
 *     or beyond Argo's 200 tasks per DAG a steps template of levels;
 *   - a composite step becomes a steps template: fan-out, its branches
 *     (withParam over the fan-out's items for a map, `when` on its case
 *     for a conditional), fan-in; a loop is an iteration template that
 *     calls itself while the loop's fan-in names a next iteration;
 *   - leaf pods use a few shared container templates, one per distinct
 *     (kind, override, secrets, retry, timeout), taking the step's name and
 *     iteration as inputs: the template count does not grow with the
 *     number of steps.
 * Map items reach pods with their JSON types: the fan-out writes each item
 * as its JSON text, and `{{item}}` is pasted into --iter-variable as is.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo.h"

#define MAX_TEMPLATES 200   /* Argo's full CRD: spec.templates maxItems */
#define MAX_DAG_TASKS 200   /* and dag.tasks maxItems */
#define MAX_NAME 128        /* template, step and task names */
#define MAX_NEST 64         /* enclosing maps and loops of one graph */
#define FAN_FILE "/tmp/runnable-fan.json"   /* pod-local: never the shared volume */
#define DEADLINE_SLACK 60   /* the pod stops a timed-out attempt itself and records
                               it; Argo's deadline is the backstop after that */

enum kind {
    K_STEP,      /* task, stub, success */
    K_FAIL,      /* a graph's fail step: the pod fails after recording it */
    K_FAN_OUT,   /* parallel */
    K_FAN_MAP,   /* map fan-out: outputs the items */
    K_FAN_COND,  /* conditional fan-out: outputs the case */
    K_FAN_LOOP,  /* loop fan-out and fan-in: output the next iteration */
    K_LOOP_IN,
    K_FAN_IN,
};

typedef struct gen {
    const rn_argo_settings *s;
    const rn_argo_input *in;
    json_t *templates;   /* in emission order: children before parents */
    json_t *names;       /* every template name in use */
    json_t *leaves;      /* leaf signature -> template name */
    json_t *prm_env;     /* RUNNABLE_PRM_* entries every pod gets */
    int has_fail_wrapper;
} gen;

/* The iterations around a graph, outermost first: its templates take
 * each as an input parameter (map-N: the item's JSON text, loop-N: the
 * index). */
typedef struct ctx {
    int n_maps, n_loops;
    const char *map_names[MAX_NEST];
} ctx;

static int oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static unsigned long fnv(const char *s)
{
    unsigned long h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & 0xffffffffu;
}

/* [a-zA-Z0-9][-a-zA-Z0-9]*, not starting with a digit (DAG tasks with
 * depends may not), at most MAX_NAME - 8 so a "-N" suffix fits. */
static void sanitize(const char *in, char *out, size_t n)
{
    size_t j = 0;
    if (!((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z'))) {
        out[j++] = 's';
        out[j++] = '-';
    }
    for (const char *p = in; *p && j + 1 < n; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[j++] = ok ? c : '-';
    }
    out[j] = '\0';
    if (j > MAX_NAME - 20)
        snprintf(out + MAX_NAME - 30, 12, "-%08lx", fnv(in));
}

/* A name not yet in `used` (base, base-2, base-3, ...), recorded there. */
static int unique(json_t *used, const char *base, char *out, size_t n)
{
    snprintf(out, n, "%s", base);
    for (int i = 2; json_object_get(used, out); i++)
        snprintf(out, n, "%s-%d", base, i);
    return json_object_set_new(used, out, json_true()) < 0 ? oom() : 0;
}

static int template_name(gen *g, const char *what, char *out, size_t n)
{
    char base[MAX_NAME];
    sanitize(what, base, sizeof base);
    return unique(g->names, base, out, n);
}

/* ------------------------------------------------------------------ */
/* Iteration context                                                   */
/* ------------------------------------------------------------------ */

/* The --iter-variable text for a step of a graph in context `c`, with the
 * graph template's inputs in it ({{ and }} kept apart from JSON's braces
 * so Argo's substitution sees only its own). */
static char *iter_text(const ctx *c)
{
    rn_buf b = {0};
    int bad = rn_buf_printf(&b, "{\"map_variable\": {") < 0;
    for (int i = 0; i < c->n_maps && !bad; i++) {
        json_t *k = json_string(c->map_names[i]);
        char *kt = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
        bad = !kt || rn_buf_printf(&b, "%s%s: {\"value\": {{inputs.parameters.map-%d}} }",
                                   i ? ", " : "", kt, i + 1) < 0;
        free(kt);
        json_decref(k);
    }
    bad = bad || rn_buf_printf(&b, "}, \"loop_variable\": [") < 0;
    for (int i = 0; i < c->n_loops && !bad; i++)
        bad = rn_buf_printf(&b, "%s{\"value\": {{inputs.parameters.loop-%d}} }", i ? ", " : "",
                            i + 1) < 0;
    bad = bad || rn_buf_printf(&b, "]}") < 0 || rn_buf_append(&b, "", 1) < 0;
    if (bad) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* inputs.parameters of a template in context `c`. */
static json_t *ctx_inputs(const ctx *c)
{
    json_t *l = json_array();
    char name[32];
    for (int i = 0; l && i < c->n_maps; i++) {
        snprintf(name, sizeof name, "map-%d", i + 1);
        json_array_append_new(l, json_pack("{s:s}", "name", name));
    }
    for (int i = 0; l && i < c->n_loops; i++) {
        snprintf(name, sizeof name, "loop-%d", i + 1);
        json_array_append_new(l, json_pack("{s:s}", "name", name));
    }
    return l;
}

/* Arguments passing a template's own context inputs on to a callee. */
static json_t *ctx_args(const ctx *c)
{
    json_t *l = json_array();
    char name[32], val[64];
    for (int i = 0; l && i < c->n_maps; i++) {
        snprintf(name, sizeof name, "map-%d", i + 1);
        snprintf(val, sizeof val, "{{inputs.parameters.map-%d}}", i + 1);
        json_array_append_new(l, json_pack("{s:s, s:s}", "name", name, "value", val));
    }
    for (int i = 0; l && i < c->n_loops; i++) {
        snprintf(name, sizeof name, "loop-%d", i + 1);
        snprintf(val, sizeof val, "{{inputs.parameters.loop-%d}}", i + 1);
        json_array_append_new(l, json_pack("{s:s, s:s}", "name", name, "value", val));
    }
    return l;
}

static json_t *with_inputs(json_t *tmpl, json_t *params)
{
    if (json_array_size(params))
        json_object_set_new(tmpl, "inputs", json_pack("{s:o}", "parameters", params));
    else
        json_decref(params);
    return tmpl;
}

/* ------------------------------------------------------------------ */
/* Leaf container templates                                            */
/* ------------------------------------------------------------------ */

/* The node's effective settings: defaults, then its override's keys
 * (each replacing the default's; env merged by name, resources by side:
 * an override naming only limits keeps the default requests). */
static json_t *effective(gen *g, const json_t *node, const char **ov_name)
{
    json_t *eff = json_deep_copy(g->s->defaults);
    const char *ov = json_string_value(
        json_object_get(json_object_get(node, "overrides"), "argo"));
    *ov_name = ov;
    const json_t *o = ov ? json_object_get(g->s->overrides, ov) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (strcmp(k, "env") == 0) {
            json_t *env = json_object_get(eff, "env");
            if (!env)
                json_object_set_new(eff, "env", env = json_array());
            size_t i, j;
            json_t *e, *d;
            json_array_foreach(v, i, e) {
                const char *n = json_string_value(json_object_get(e, "name"));
                int replaced = 0;
                json_array_foreach(env, j, d)
                    if (n && strcmp(n, json_string_value(json_object_get(d, "name"))) == 0) {
                        json_array_set(env, j, e);
                        replaced = 1;
                        break;
                    }
                if (!replaced)
                    json_array_append(env, e);
            }
        } else if (strcmp(k, "resources") == 0 && json_object_get(eff, k)) {
            json_t *r = json_object_get(eff, k);
            json_t *copy = json_deep_copy(r);
            json_object_update(copy, v);
            json_object_set_new(eff, k, copy);
        } else {
            json_object_set(eff, k, v);
        }
    }
    return eff;
}

/* Kubernetes quantities as strings; `gpu` is nvidia.com/gpu. */
static json_t *resources(const json_t *r)
{
    json_t *out = json_object();
    const char *side[] = {"limits", "requests"};
    for (int i = 0; i < 2; i++) {
        const json_t *m = json_object_get(r, side[i]);
        json_t *o = json_object();
        if (!m)
            m = json_pack("{s:s, s:s}", "memory", "1Gi", "cpu", "250m");
        else
            json_incref((json_t *)m);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)m, k, v) {
            char num[64];
            json_t *t;
            if (json_is_integer(v)) {
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                t = json_string(num);
            } else if (json_is_real(v)) {
                snprintf(num, sizeof num, "%g", json_real_value(v));
                t = json_string(num);
            } else {
                t = json_incref(v);
            }
            json_object_set_new(o, strcmp(k, "gpu") == 0 ? "nvidia.com/gpu" : k, t);
        }
        json_decref((json_t *)m);
        json_object_set_new(out, side[i], o);
    }
    return out;
}

/* retryStrategy for a node's max_attempts and retry: limit = attempts - 1,
 * backoff from retry's delay/factor/max_delay (seconds). */
static json_t *node_retry(const json_t *node)
{
    json_int_t ma = json_integer_value(json_object_get(node, "max_attempts"));
    if (ma <= 1)
        return NULL;
    char num[32];
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, ma - 1);
    json_t *rs = json_pack("{s:s, s:s}", "limit", num, "retryPolicy", "Always");
    const json_t *r = json_object_get(node, "retry");
    if (json_is_object(r)) {
        const json_t *d = json_object_get(r, "delay"), *f = json_object_get(r, "factor"),
                     *m = json_object_get(r, "max_delay");
        double delay = json_is_number(d) ? json_number_value(d) : 1;
        double factor = json_is_number(f) ? json_number_value(f) : 2;
        double cap = json_is_number(m) ? json_number_value(m) : 60;
        char dur[32], fac[32], capt[32];
        snprintf(dur, sizeof dur, "%lds", (long)ceil(delay));
        /* Argo's factor is a whole number. */
        snprintf(fac, sizeof fac, "%ld", factor < 1 ? 1L : (long)(factor + 0.5));
        snprintf(capt, sizeof capt, "%lds", (long)ceil(cap));
        json_object_set_new(rs, "backoff", json_pack("{s:s, s:s, s:s}", "duration", dur,
                                                    "factor", fac, "cap", capt));
    }
    return rs;
}

static const char *kind_base(int k)
{
    static const char *const names[] = {"step", "fail", "fan-out", "fan-out-map",
                                        "fan-out-conditional", "fan-out-loop", "fan-in-loop",
                                        "fan-in"};
    return names[k];
}

/* The command every pod runs (docs/node-protocol.md). */
static json_t *command(gen *g, int k)
{
    const char *prog = g->s->runnable;
    json_t *c = json_array();
    if (k == K_FAIL) {
        /* The fail step records the branch (or run) as failed and
         * succeeds; its pod then fails so Argo's view agrees. */
        json_array_append_new(c, json_string("sh"));
        json_array_append_new(c, json_string("-c"));
        json_array_append_new(c, json_string("\"$0\" \"$@\" || exit $?; echo 'runnable: the "
                                             "pipeline reached its fail step' >&2; exit 1"));
    }
    json_array_append_new(c, json_string(prog));
    if (k == K_STEP || k == K_FAIL) {
        json_array_append_new(c, json_string("execute-single-node"));
        json_array_append_new(c, json_string("{{workflow.name}}"));
        json_array_append_new(c, json_string(g->in->pipeline_file));
        json_array_append_new(c, json_string("{{inputs.parameters.step}}"));
    } else {
        json_array_append_new(c, json_string("fan"));
        json_array_append_new(c, json_string("{{workflow.name}}"));
        json_array_append_new(c, json_string("{{inputs.parameters.step}}"));
        json_array_append_new(c, json_string(g->in->pipeline_file));
        json_array_append_new(c, json_string(k == K_FAN_IN || k == K_LOOP_IN ? "in" : "out"));
    }
    json_array_append_new(c, json_string("--iter-variable"));
    json_array_append_new(c, json_string("{{inputs.parameters.iter}}"));
    json_array_append_new(c, json_string("--log-level"));
    json_array_append_new(c, json_string("{{workflow.parameters.log_level}}"));
    if (g->in->config_file) {
        json_array_append_new(c, json_string("-c"));
        json_array_append_new(c, json_string(g->in->config_file));
    }
    if (k == K_FAN_MAP || k == K_FAN_COND || k == K_FAN_LOOP || k == K_LOOP_IN) {
        json_array_append_new(c, json_string("-o"));
        json_array_append_new(c, json_string(FAN_FILE));
    }
    if (k == K_FAN_MAP)
        json_array_append_new(c, json_string("--quote-items"));
    return c;
}

static json_t *output_param(const char *name)
{
    return json_pack("{s:[{s:s, s:{s:s}}]}", "parameters", "name", name, "valueFrom", "path",
                     FAN_FILE);
}

/* The shared container template for a leaf of kind `k` at `node`; its
 * name in `out`. */
static int leaf_template(gen *g, int k, const json_t *node, char *out, size_t n)
{
    const char *ov = NULL;
    json_t *eff = effective(g, node, &ov);
    int task = k == K_STEP && strcmp(json_string_value(json_object_get(node, "node_type")),
                                     "task") == 0;
    const json_t *secrets = task ? json_object_get(node, "secrets") : NULL;
    json_t *retry = k == K_STEP ? node_retry(node) : NULL;
    const json_t *timeout = k == K_STEP ? json_object_get(node, "timeout") : NULL;
    int leafy = k == K_STEP;   /* a step, not bookkeeping: settings' retry applies */
    json_t *sig = json_pack("[i, s?, O?, O?, O?]", k, ov, secrets, retry, timeout);
    char *key = sig ? json_dumps(sig, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(sig);
    if (!key || !eff) {
        free(key);
        json_decref(eff);
        json_decref(retry);
        return oom();
    }
    const char *known = json_string_value(json_object_get(g->leaves, key));
    if (known) {
        snprintf(out, n, "%s", known);
        free(key);
        json_decref(eff);
        json_decref(retry);
        return 0;
    }
    char base[MAX_NAME];
    snprintf(base, sizeof base, "%s%s%s", kind_base(k), ov ? "-" : "", ov ? ov : "");
    int rc = template_name(g, base, out, n);
    if (rc < 0) {
        free(key);
        json_decref(eff);
        json_decref(retry);
        return rc;
    }
    json_object_set_new(g->leaves, key, json_string(out));
    free(key);

    json_t *env = json_deep_copy(g->prm_env);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(eff, "env"), i, x)
        json_array_append(env, x);
    json_array_foreach(secrets, i, x)
        json_array_append_new(env, json_pack("{s:O, s:{s:{s:s, s:O}}}", "name", x, "valueFrom",
                                             "secretKeyRef", "name", g->s->secret_from_k8s,
                                             "key", x));
    const char *pull = json_string_value(json_object_get(eff, "imagePullPolicy"));
    json_t *ct = json_pack("{s:O, s:o, s:s}", "image", json_object_get(eff, "image"), "command",
                           command(g, k), "imagePullPolicy", pull ? pull : "Always");
    if (json_array_size(env))
        json_object_set_new(ct, "env", env);
    else
        json_decref(env);
    json_object_set_new(ct, "resources", resources(json_object_get(eff, "resources")));
    json_t *mounts = json_array();
    if (g->s->pvc)
        json_array_append_new(mounts, json_pack("{s:s, s:s}", "name", "runnable", "mountPath",
                                                g->s->mount_path));
    json_array_extend(mounts, g->s->mounts);
    if (json_array_size(mounts))
        json_object_set_new(ct, "volumeMounts", mounts);
    else
        json_decref(mounts);

    json_t *t = json_pack("{s:s, s:{s:[{s:s}, {s:s}]}, s:o}", "name", out, "inputs",
                          "parameters", "name", "step", "name", "iter", "container", ct);
    if (k == K_FAN_MAP)
        json_object_set_new(t, "outputs", output_param("items"));
    else if (k == K_FAN_COND)
        json_object_set_new(t, "outputs", output_param("case"));
    else if (k == K_FAN_LOOP || k == K_LOOP_IN)
        json_object_set_new(t, "outputs", output_param("next"));
    /* Per-template settings from the override (defaults' nodeSelector and
     * tolerations are in templateDefaults). */
    const json_t *o = ov ? json_object_get(g->s->overrides, ov) : NULL;
    const char *const pass[] = {"nodeSelector", "tolerations", NULL};
    for (int p = 0; pass[p]; p++)
        if (json_object_get(o, pass[p]))
            json_object_set(t, pass[p], json_object_get(o, pass[p]));
    if (retry)
        json_object_set_new(t, "retryStrategy", retry);
    else if (leafy && json_object_get(eff, "retryStrategy"))
        json_object_set(t, "retryStrategy", json_object_get(eff, "retryStrategy"));
    else if (leafy && json_object_get(g->s->spec, "retryStrategy"))
        json_object_set(t, "retryStrategy", json_object_get(g->s->spec, "retryStrategy"));
    if (json_is_number(timeout)) {
        json_object_set_new(t, "activeDeadlineSeconds",
                            json_integer((json_int_t)ceil(json_number_value(timeout)) +
                                         DEADLINE_SLACK));
    } else if (json_object_get(eff, "activeDeadlineSeconds")) {
        json_object_set(t, "activeDeadlineSeconds", json_object_get(eff, "activeDeadlineSeconds"));
    }
    if (json_object_get(eff, "timeout"))
        json_object_set(t, "timeout", json_object_get(eff, "timeout"));
    json_decref(eff);
    json_array_append_new(g->templates, t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Graphs                                                              */
/* ------------------------------------------------------------------ */

static int graph_template(gen *g, const json_t *graph, const char *prefix, const char *tname,
                          const ctx *c);

static const char *ntype(const json_t *node)
{
    const char *t = json_string_value(json_object_get(node, "node_type"));
    return t ? t : "";
}

static int is_composite(const json_t *node)
{
    const char *t = ntype(node);
    return strcmp(t, "parallel") == 0 || strcmp(t, "map") == 0 ||
           strcmp(t, "conditional") == 0 || strcmp(t, "loop") == 0;
}

static int is_terminal(const json_t *node)
{
    return strcmp(ntype(node), "success") == 0 || strcmp(ntype(node), "fail") == 0;
}

/* The command-line name of a node: its static internal name, '%' for
 * spaces. */
static char *step_arg(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    snprintf(s, n, "%s%s", prefix, name);
    for (char *p = s; *p; p++)
        if (*p == ' ')
            *p = '%';
    return s;
}

/* A call of leaf `tmpl` for step `arg` (arguments step, iter). */
static json_t *leaf_call(const char *name, const char *tmpl, const char *arg, const char *iter)
{
    return json_pack("{s:s, s:s, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "name", name, "template",
                     tmpl, "arguments", "parameters", "name", "step", "value", arg, "name",
                     "iter", "value", iter);
}

/* A call of a graph or wrapper template in the same context (plus
 * `extra` arguments). */
static json_t *ctx_call(const char *name, const char *tmpl, const ctx *c, json_t *extra)
{
    json_t *args = ctx_args(c);
    if (extra) {
        json_array_extend(args, extra);
        json_decref(extra);
    }
    json_t *s = json_pack("{s:s, s:s}", "name", name, "template", tmpl);
    if (json_array_size(args))
        json_object_set_new(s, "arguments", json_pack("{s:o}", "parameters", args));
    else
        json_decref(args);
    return s;
}

/* The template a composite step calls: fan-out, branches, fan-in. */
static int composite_template(gen *g, const json_t *node, const char *prefix, const char *nname,
                              const ctx *c, char *out, size_t n)
{
    const char *type = ntype(node);
    char *arg = step_arg(prefix, nname);
    char *iter = iter_text(c);
    size_t plen = strlen(prefix) + strlen(nname) + 64;
    char *full = malloc(plen), *sub = malloc(plen + 256);
    int rc = arg && iter && full && sub ? 0 : oom();
    if (rc == 0) {
        snprintf(full, plen, "%s%s", prefix, nname);
        /* Named after the step's path, without the placeholders. */
        snprintf(sub, plen + 256, "%s", full);
        const char *const ph[] = {".map_variable_placeholder", ".loop_variable_placeholder"};
        for (int i = 0; i < 2; i++)
            for (char *at; (at = strstr(sub, ph[i]));)
                memmove(at, at + strlen(ph[i]), strlen(at + strlen(ph[i])) + 1);
        rc = template_name(g, sub, out, n);
    }
    char fan_out[MAX_NAME], fan_in[MAX_NAME], btmpl[MAX_NAME];
    int ko = strcmp(type, "map") == 0 ? K_FAN_MAP
             : strcmp(type, "conditional") == 0 ? K_FAN_COND
             : strcmp(type, "loop") == 0 ? K_FAN_LOOP : K_FAN_OUT;
    if (rc == 0)
        rc = leaf_template(g, ko, node, fan_out, sizeof fan_out);
    if (rc == 0)
        rc = leaf_template(g, ko == K_FAN_LOOP ? K_LOOP_IN : K_FAN_IN, node, fan_in,
                           sizeof fan_in);
    json_t *groups = json_array();
    if (rc == 0)
        json_array_append_new(groups, json_pack("[o]", leaf_call("fan-out", fan_out, arg, iter)));
    json_t *branches = json_array();
    json_t *cont = json_pack("{s:b}", "failed", 1);
    if (rc == 0 && strcmp(type, "map") == 0) {
        ctx inner = *c;
        if (c->n_maps >= MAX_NEST)
            rc = rn_error_set(RN_EINVAL, "step '%s': more than %d maps and loops around one "
                              "step", full, MAX_NEST);
        else
            inner.map_names[inner.n_maps++] =
                json_string_value(json_object_get(node, "iterate_as"));
        snprintf(sub, plen + 256, "%s.map_variable_placeholder.", full);
        if (rc == 0) {
            char what[MAX_NAME + 16];
            snprintf(what, sizeof what, "%s-branch", out);
            rc = template_name(g, what, btmpl, sizeof btmpl);
        }
        if (rc == 0)
            rc = graph_template(g, json_object_get(node, "branch"), sub, btmpl, &inner);
        if (rc == 0) {
            char name[32];
            snprintf(name, sizeof name, "map-%d", inner.n_maps);
            json_t *s = ctx_call("branch", btmpl, c,
                                 json_pack("[{s:s, s:s}]", "name", name, "value", "{{item}}"));
            json_object_set_new(s, "withParam",
                                json_string("{{steps.fan-out.outputs.parameters.items}}"));
            json_object_set(s, "continueOn", cont);
            json_array_append_new(branches, s);
        }
    } else if (rc == 0 && (strcmp(type, "parallel") == 0 || strcmp(type, "conditional") == 0)) {
        json_t *used = json_object();
        json_t *all = json_copy(json_object_get(node, "branches"));
        if (json_is_object(json_object_get(node, "default")))
            json_object_set(all, "default", json_object_get(node, "default"));
        const char *key;
        json_t *br;
        json_object_foreach(all, key, br) {
            if (strchr(key, '\'') || strchr(key, '\\') || strchr(key, '"')) {
                rc = rn_error_set(RN_EINVAL, "%s: branch '%s' of step '%s': the Argo "
                                  "manifest cannot test a branch key with quotes or "
                                  "backslashes; rename the branch", g->in->pipeline_file, key,
                                  full);
                break;
            }
            snprintf(sub, plen + 256, "%s.%s.", full, key);
            char what[MAX_NAME * 2], sname[MAX_NAME], sbase[MAX_NAME];
            snprintf(what, sizeof what, "%s-%s", out, key);
            if ((rc = template_name(g, what, btmpl, sizeof btmpl)) < 0 ||
                (rc = graph_template(g, br, sub, btmpl, c)) < 0)
                break;
            snprintf(what, sizeof what, "branch-%s", key);
            sanitize(what, sbase, sizeof sbase);
            if ((rc = unique(used, sbase, sname, sizeof sname)) < 0)
                break;
            json_t *s = ctx_call(sname, btmpl, c, NULL);
            json_object_set(s, "continueOn", cont);
            if (strcmp(type, "conditional") == 0) {
                /* The fan-out writes the key as JSON text. */
                char w[MAX_NAME * 2 + 64];
                snprintf(w, sizeof w, "'{{steps.fan-out.outputs.parameters.case}}' == '\"%s\"'",
                         key);
                json_object_set_new(s, "when", json_string(w));
            }
            json_array_append_new(branches, s);
        }
        json_decref(all);
        json_decref(used);
    } else if (rc == 0) {
        /* loop: an iteration template calling itself for the next one */
        ctx inner = *c;
        if (c->n_loops >= MAX_NEST)
            rc = rn_error_set(RN_EINVAL, "step '%s': more than %d loops around one step", full,
                              MAX_NEST);
        else
            inner.n_loops++;
        char itmpl[MAX_NAME], what[MAX_NAME + 16], name[32];
        snprintf(what, sizeof what, "%s-iteration", out);
        if (rc == 0)
            rc = template_name(g, what, itmpl, sizeof itmpl);
        snprintf(what, sizeof what, "%s-branch", out);
        if (rc == 0)
            rc = template_name(g, what, btmpl, sizeof btmpl);
        snprintf(sub, plen + 256, "%s.loop_variable_placeholder.", full);
        if (rc == 0)
            rc = graph_template(g, json_object_get(node, "branch"), sub, btmpl, &inner);
        snprintf(name, sizeof name, "loop-%d", inner.n_loops);
        if (rc == 0) {
            json_t *body = ctx_call("body", btmpl, &inner, NULL);
            json_object_set(body, "continueOn", cont);
            json_t *again = ctx_call("again", itmpl, c,
                                     json_pack("[{s:s, s:s}]", "name", name, "value",
                                               "{{steps.fan-in.outputs.parameters.next}}"));
            json_object_set_new(again, "when",
                                json_string("'{{steps.fan-in.outputs.parameters.next}}' != "
                                            "'\"done\"'"));
            json_t *it = json_pack("{s:s, s:[[o], [o], [o]]}", "name", itmpl, "steps", body,
                                   leaf_call("fan-in", fan_in, arg, iter), again);
            json_array_append_new(g->templates, with_inputs(it, ctx_inputs(&inner)));
            json_array_append_new(
                branches, ctx_call("iteration", itmpl, c,
                                   json_pack("[{s:s, s:s}]", "name", name, "value",
                                             "{{steps.fan-out.outputs.parameters.next}}")));
        }
    }
    json_decref(cont);
    if (rc == 0) {
        if (json_array_size(branches))
            json_array_append(groups, branches);
        if (strcmp(type, "loop") != 0)
            json_array_append_new(groups, json_pack("[o]", leaf_call("fan-in", fan_in, arg,
                                                                     iter)));
        json_t *t = json_pack("{s:s, s:O}", "name", out, "steps", groups);
        const char *ov = json_string_value(
            json_object_get(json_object_get(node, "overrides"), "argo"));
        const json_t *par = json_object_get(json_object_get(g->s->overrides, ov ? ov : ""),
                                            "parallelism");
        if (!par)
            par = json_object_get(g->s->defaults, "parallelism");
        if (par)
            json_object_set(t, "parallelism", (json_t *)par);
        json_array_append_new(g->templates, with_inputs(t, ctx_inputs(c)));
    }
    json_decref(branches);
    json_decref(groups);
    free(arg);
    free(iter);
    free(full);
    free(sub);
    return rc;
}

/* The step (or task) of one node: its template and arguments. */
static json_t *node_call(gen *g, const json_t *node, const char *prefix, const char *nname,
                         const char *sname, const ctx *c, int *rc)
{
    char tmpl[MAX_NAME];
    json_t *call = NULL;
    if (is_composite(node)) {
        if ((*rc = composite_template(g, node, prefix, nname, c, tmpl, sizeof tmpl)) == 0)
            call = ctx_call(sname, tmpl, c, NULL);
    } else {
        int k = strcmp(ntype(node), "fail") == 0 ? K_FAIL : K_STEP;
        char *arg = step_arg(prefix, nname), *iter = iter_text(c);
        if (!arg || !iter)
            *rc = oom();
        else if ((*rc = leaf_template(g, k, node, tmpl, sizeof tmpl)) == 0)
            call = leaf_call(sname, tmpl, arg, iter);
        free(arg);
        free(iter);
    }
    if (*rc == 0 && !call)
        *rc = oom();
    return call;
}

/* A reachable node of a next-graph, with the edges into it. */
typedef struct gnode {
    const char *name;
    const json_t *node;
    char sname[MAX_NAME];
    int mark;           /* 0 new, 1 on the path, 2 done */
    json_t *preds;      /* ["step-name", "Succeeded" | "Failed"] ... */
} gnode;

typedef struct walk {
    gnode *v;
    size_t n;
    const json_t *nodes;
    gnode **order;      /* reverse post-order: a topological order */
    size_t n_order;
} walk;

static gnode *find(walk *w, const char *name)
{
    const json_t *node = json_object_get(w->nodes, name);
    if (!node)
        return NULL;
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].node == node)
            return &w->v[i];
    return NULL;
}

static int visit(walk *w, gnode *x, int depth)
{
    if (x->mark == 2)
        return 0;
    if (x->mark == 1 || depth > 100000)
        return rn_error_set(RN_EINVAL, "the graph has a cycle through '%s'", x->name);
    x->mark = 1;
    const char *nx = json_string_value(json_object_get(x->node, "next_node"));
    const char *of = json_string_value(json_object_get(x->node, "on_failure"));
    gnode *succ[2] = {NULL, NULL};
    if (!is_terminal(x->node)) {
        /* A step without on_failure goes to its graph's fail step. */
        succ[0] = find(w, of && *of ? of : "fail");
        succ[1] = find(w, nx && *nx ? nx : "success");
    }
    for (int i = 0; i < 2; i++) {
        if (!succ[i])
            continue;
        json_array_append_new(succ[i]->preds,
                              json_pack("[s, s]", x->sname, i ? "Succeeded" : "Failed"));
        int rc = visit(w, succ[i], depth + 1);
        if (rc < 0)
            return rc;
    }
    x->mark = 2;
    w->order[w->n_order++] = x;
    return 0;
}

/* A `next` graph as a steps template. */
static int steps_graph(gen *g, const json_t *graph, const char *prefix, const char *tname,
                       const ctx *c)
{
    walk w = {0};
    w.nodes = json_object_get(graph, "nodes");
    w.n = json_object_size(w.nodes);
    w.v = calloc(w.n + 1, sizeof *w.v);
    w.order = calloc(w.n + 1, sizeof *w.order);
    json_t *used = json_object();
    int rc = w.v && w.order && used ? 0 : oom();
    size_t i = 0;
    const char *name;
    json_t *node;
    json_object_foreach((json_t *)w.nodes, name, node) {
        if (rc < 0)
            break;
        w.v[i].name = name;
        w.v[i].node = node;
        w.v[i].preds = json_array();
        char base[MAX_NAME];
        sanitize(name, base, sizeof base);
        rc = unique(used, base, w.v[i].sname, sizeof w.v[i].sname);
        i++;
    }
    gnode *start = rc == 0 ? find(&w, json_string_value(json_object_get(graph, "start_at")))
                           : NULL;
    if (rc == 0 && !start)
        rc = rn_error_set(RN_EINVAL, "graph '%s' has no start step", prefix);
    if (rc == 0)
        rc = visit(&w, start, 0);
    json_t *groups = json_array();
    for (size_t k = w.n_order; rc == 0 && k-- > 0;) {
        gnode *x = w.order[k];
        json_t *call = node_call(g, x->node, prefix, x->name, x->sname, c, &rc);
        if (rc < 0)
            break;
        rn_buf b = {0};
        size_t j;
        json_t *p;
        json_array_foreach(x->preds, j, p)
            if (rn_buf_printf(&b, "%s'{{steps.%s.status}}' == '%s'", j ? " || " : "",
                              json_string_value(json_array_get(p, 0)),
                              json_string_value(json_array_get(p, 1))) < 0)
                rc = oom();
        if (rc == 0 && b.len && rn_buf_append(&b, "", 1) == 0)
            json_object_set_new(call, "when", json_string(b.data));
        rn_buf_free(&b);
        if (!is_terminal(x->node))
            json_object_set_new(call, "continueOn", json_pack("{s:b}", "failed", 1));
        json_array_append_new(groups, json_pack("[o]", call));
    }
    if (rc == 0) {
        json_t *t = json_pack("{s:s, s:O}", "name", tname, "steps", groups);
        json_array_append_new(g->templates, with_inputs(t, ctx_inputs(c)));
    }
    json_decref(groups);
    for (size_t k = 0; w.v && k < w.n; k++)
        json_decref(w.v[k].preds);
    free(w.v);
    free(w.order);
    json_decref(used);
    return rc;
}

/* How a depends_on graph's template names a step's outcome: a DAG task's
 * `depends` says `a.Succeeded`, a steps template's `when` says
 * '{{steps.a.status}}' == 'Succeeded'.  A step that never ran is Omitted
 * in a DAG, Skipped in steps. */
static int outcome(rn_buf *b, int levels, const char *sep, const char *sname, const char *res)
{
    if (levels && strcmp(res, "Omitted") == 0)
        res = "Skipped";
    return levels ? rn_buf_printf(b, "%s'{{steps.%s.status}}' == '%s'", sep, sname, res)
                  : rn_buf_printf(b, "%s%s.%s", sep, sname, res);
}

/* The level of a step of a depends_on graph: 0 without dependencies, else
 * one more than its deepest dependency's (memoised in `lv`). */
static int dag_level(const json_t *nodes, const char *name, json_t *lv, int depth)
{
    json_t *known = json_object_get(lv, name);
    if (known) {
        int l = (int)json_integer_value(known);
        return l >= 0 ? l : rn_error_set(RN_EINVAL, "the graph has a cycle through '%s'", name);
    }
    if (depth > 100000)
        return rn_error_set(RN_EINVAL, "the graph has a cycle through '%s'", name);
    json_object_set_new(lv, name, json_integer(-1));
    int level = 0;
    size_t j;
    json_t *dep;
    json_array_foreach(json_object_get(json_object_get(nodes, name), "depends_on"), j, dep) {
        const char *d = json_string_value(dep);
        if (!d || !json_object_get(nodes, d))
            continue;
        int l = dag_level(nodes, d, lv, depth + 1);
        if (l < 0)
            return l;
        if (l + 1 > level)
            level = l + 1;
    }
    json_object_set_new(lv, name, json_integer(level));
    return level;
}

/* A depends_on graph: a step runs when all it depends on succeeded;
 * `fail` when any step without skip_on_error failed, `success` when none
 * did.  Up to MAX_DAG_TASKS steps it is a dag template (`depends`); a
 * larger graph is a steps template of levels (a step's level is one more
 * than its deepest dependency's; the steps of a level run together), each
 * step with a `when` on its own dependencies and continueOn.failed, so a
 * failure skips exactly its dependents, as in the dag and in execute.
 * The levels cost only concurrency: a step waits for its whole level
 * before it rather than for its own dependencies. */
static int dag_graph(gen *g, const json_t *graph, const char *prefix, const char *tname,
                     const ctx *c)
{
    const json_t *nodes = json_object_get(graph, "nodes");
    int levels = json_object_size(nodes) > MAX_DAG_TASKS;
    json_t *used = json_object(), *snames = json_object(), *tasks = json_array();
    json_t *lv = json_object();
    rn_buf failed = {0}, ok = {0};
    int rc = used && snames && tasks && lv ? 0 : oom();
    const char *name;
    json_t *node;
    json_object_foreach((json_t *)nodes, name, node) {
        char base[MAX_NAME], sname[MAX_NAME];
        sanitize(name, base, sizeof base);
        if (rc == 0 && (rc = unique(used, base, sname, sizeof sname)) == 0)
            json_object_set_new(snames, name, json_string(sname));
    }
    json_object_foreach((json_t *)nodes, name, node) {
        if (rc < 0)
            break;
        if (is_terminal(node))
            continue;
        const char *sname = json_string_value(json_object_get(snames, name));
        int level = levels ? dag_level(nodes, name, lv, 0) : 0;
        if (level < 0) {
            rc = level;
            break;
        }
        json_t *call = node_call(g, node, prefix, name, sname, c, &rc);
        if (rc < 0)
            break;
        rn_buf d = {0};
        size_t j;
        json_t *dep;
        json_array_foreach(json_object_get(node, "depends_on"), j, dep)
            if (outcome(&d, levels, j ? " && " : "",
                        json_string_value(json_object_get(snames, json_string_value(dep))),
                        "Succeeded") < 0)
                rc = oom();
        if (rc == 0 && d.len && rn_buf_append(&d, "", 1) == 0)
            json_object_set_new(call, levels ? "when" : "depends", json_string(d.data));
        rn_buf_free(&d);
        if (levels) {
            json_object_set_new(call, "continueOn", json_pack("{s:b}", "failed", 1));
            while (rc == 0 && json_array_size(tasks) <= (size_t)level)
                json_array_append_new(tasks, json_array());
            json_array_append_new(json_array_get(tasks, (size_t)level), call);
        } else {
            json_array_append_new(tasks, call);
        }
        int skip = json_is_true(json_object_get(node, "skip_on_error"));
        if (!skip && outcome(&failed, levels, failed.len ? " || " : "", sname, "Failed") < 0)
            rc = oom();
        if (rn_buf_append(&ok, ok.len ? " && (" : "(", ok.len ? 5 : 1) < 0 ||
            outcome(&ok, levels, "", sname, "Succeeded") < 0 ||
            outcome(&ok, levels, " || ", sname, "Omitted") < 0 ||
            (skip && outcome(&ok, levels, " || ", sname, "Failed") < 0) ||
            rn_buf_append(&ok, ")", 1) < 0)
            rc = oom();
    }
    /* The ends run after every step: the last level of their own. */
    json_t *last = levels ? json_array() : tasks;
    if (rc == 0 && rn_buf_append(&failed, "", 1) == 0 && rn_buf_append(&ok, "", 1) == 0) {
        const char *const ends[] = {"success", "fail"};
        for (int e = 0; e < 2 && rc == 0; e++) {
            const json_t *en = json_object_get(nodes, ends[e]);
            const char *sname = json_string_value(json_object_get(snames, ends[e]));
            if (!en || (e == 1 && failed.len <= 1))
                continue;
            json_t *call = node_call(g, en, prefix, ends[e], sname, c, &rc);
            if (rc < 0)
                break;
            json_object_set_new(call, levels ? "when" : "depends",
                                json_string(e ? failed.data : ok.data));
            json_array_append_new(last, call);
        }
    }
    if (levels && json_array_size(last))
        json_array_append(tasks, last);
    if (levels)
        json_decref(last);
    if (rc == 0) {
        json_t *t = levels ? json_pack("{s:s, s:O}", "name", tname, "steps", tasks)
                           : json_pack("{s:s, s:{s:b, s:O}}", "name", tname, "dag", "failFast",
                                       0, "tasks", tasks);
        json_array_append_new(g->templates, with_inputs(t, ctx_inputs(c)));
    }
    rn_buf_free(&failed);
    rn_buf_free(&ok);
    json_decref(tasks);
    json_decref(lv);
    json_decref(used);
    json_decref(snames);
    return rc;
}

static int graph_template(gen *g, const json_t *graph, const char *prefix, const char *tname,
                          const ctx *c)
{
    const json_t *nodes = json_object_get(graph, "nodes");
    const char *name;
    json_t *node;
    json_object_foreach((json_t *)nodes, name, node)
        if (json_object_get(node, "depends_on"))
            return dag_graph(g, graph, prefix, tname, c);
    return steps_graph(g, graph, prefix, tname, c);
}

/* ------------------------------------------------------------------ */
/* Checks and the document                                             */
/* ------------------------------------------------------------------ */

static int each_graph(const json_t *graph, const char *where, const char *at,
                      rn_argo_graph_fn fn, void *data)
{
    int rc = fn(graph, where, data);
    const char *name;
    json_t *node;
    json_object_foreach(json_object_get(graph, "nodes"), name, node) {
        if (rc < 0)
            break;
        json_t *branches = json_object_get(node, "branches");
        if (!json_object_size(branches) && !json_object_get(node, "branch") &&
            !json_object_get(node, "default"))
            continue; /* a leaf: no name to format */
        char step[512], sub[700];
        snprintf(step, sizeof step, "%s%s%s", at, *at ? "." : "", name);
        const char *kids[] = {"branch", "default"};
        for (int i = 0; i < 2 && rc >= 0; i++) {
            const json_t *b = json_object_get(node, kids[i]);
            if (json_is_object(b)) {
                snprintf(sub, sizeof sub, "the %s of step '%s'", kids[i], step);
                rc = each_graph(b, sub, step, fn, data);
            }
        }
        const char *k;
        json_t *b;
        json_object_foreach(branches, k, b) {
            if (rc < 0)
                break;
            char inner[600];
            snprintf(inner, sizeof inner, "%s.%s", step, k);
            snprintf(sub, sizeof sub, "branch '%s'", inner);
            rc = each_graph(b, sub, inner, fn, data);
        }
    }
    return rc;
}

int rn_argo_each_graph(const json_t *dag, rn_argo_graph_fn fn, void *data)
{
    return each_graph(dag, "the pipeline's graph", "", fn, data);
}

typedef struct check_ctx {
    const rn_argo_settings *s;
    const rn_argo_input *in;
} check_ctx;

static int check_graph(const json_t *graph, const char *where, void *data)
{
    const check_ctx *x = data;
    const char *name;
    json_t *node;
    (void)where;
    json_object_foreach(json_object_get(graph, "nodes"), name, node) {
        const char *ov = json_string_value(
            json_object_get(json_object_get(node, "overrides"), "argo"));
        if (ov && !json_object_get(x->s->overrides, ov))
            return rn_error_set(RN_EINVAL, "%s: step '%s' asks for the argo override '%s', "
                                "which the executor's config does not define (add it under "
                                "overrides:)", x->in->pipeline_file, name, ov);
        if (json_array_size(json_object_get(node, "secrets")) && !x->s->secret_from_k8s)
            return rn_error_set(RN_EINVAL, "%s: step '%s' needs secrets: name the Kubernetes "
                                "Secret that holds them with secret_from_k8s in the argo "
                                "config", x->in->pipeline_file, name);
    }
    return 0;
}

int rn_argo_check(const rn_argo_settings *s, const rn_argo_input *in)
{
    if (!in->dag)
        return rn_error_set(RN_EINVAL, "no pipeline to write out");
    check_ctx x = {s, in};
    return rn_argo_each_graph(in->dag, check_graph, &x);
}

/* A parameter value as a workflow argument and a RUNNABLE_PRM_ value:
 * strings as they are unless JSON would read them as something else. */
static char *param_text(const json_t *v)
{
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        json_t *back = rn_json_loads_py(t, strlen(t));
        int plain = !back;
        json_decref(back);
        if (plain)
            return strdup(t);
    }
    return rn_json_dumps_py(v, 0);
}

static int params(gen *g, json_t *args)
{
    const char *name;
    json_t *p;
    json_object_foreach((json_t *)g->in->parameters, name, p) {
        int ok = *name != '\0';
        for (const char *c = name; *c; c++)
            ok &= (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok || strcmp(name, "log_level") == 0)
            return rn_error_set(RN_EINVAL, "initial parameter '%s' cannot reach the pods: they "
                                "get parameters as RUNNABLE_PRM_<name>, so names are lower "
                                "case letters, digits and '_' (and not log_level)", name);
        char *text = param_text(json_object_get(p, "value"));
        if (!text)
            return oom();
        char env[600], ref[600];
        snprintf(env, sizeof env, "RUNNABLE_PRM_%s", name);
        snprintf(ref, sizeof ref, "{{workflow.parameters.%s}}", name);
        if (g->s->expose_params) {
            json_array_append_new(args, json_pack("{s:s, s:s}", "name", name, "value", text));
            json_array_append_new(g->prm_env, json_pack("{s:s, s:s}", "name", env, "value", ref));
        } else {
            json_array_append_new(g->prm_env, json_pack("{s:s, s:s}", "name", env, "value", text));
        }
        free(text);
    }
    return 0;
}

static json_t *workflow_spec(gen *g, json_t *args)
{
    json_t *spec = json_pack("{s:s, s:{s:O}}", "entrypoint", "runnable-dag", "arguments",
                             "parameters", args);
    if (!json_object_get(g->s->spec, "activeDeadlineSeconds"))
        json_object_set_new(spec, "activeDeadlineSeconds", json_integer(86400));
    json_object_update(spec, g->s->spec);
    /* A workflow-wide retryStrategy would also retry steps templates (a
     * whole branch again) and the pods that fail on purpose (fail steps,
     * fan-ins of failed composites): it is given to the steps' pods
     * instead. */
    json_object_del(spec, "retryStrategy");
    json_t *td = json_object();
    const char *const pass[] = {"nodeSelector", "tolerations", NULL};
    for (int i = 0; pass[i]; i++)
        if (json_object_get(g->s->defaults, pass[i]))
            json_object_set(td, pass[i], json_object_get(g->s->defaults, pass[i]));
    if (json_object_size(td))
        json_object_set_new(spec, "templateDefaults", td);
    else
        json_decref(td);
    json_object_set(spec, "templates", g->templates);
    json_t *vols = json_array();
    if (g->s->pvc)
        json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", "runnable",
                                              "persistentVolumeClaim", "claimName", g->s->pvc));
    json_array_extend(vols, g->s->volumes);
    if (json_array_size(vols))
        json_object_set_new(spec, "volumes", vols);
    else
        json_decref(vols);
    return spec;
}

int rn_argo_generate(const rn_argo_settings *s, const rn_argo_input *in, json_t **out)
{
    *out = NULL;
    int rc = rn_argo_check(s, in);
    if (rc < 0)
        return rc;
    gen g = {.s = s, .in = in};
    g.templates = json_array();
    g.names = json_object();
    g.leaves = json_object();
    g.prm_env = json_array();
    json_t *args = json_pack("[{s:s, s:s}]", "name", "log_level", "value", s->log_level);
    rc = g.templates && g.names && g.leaves && g.prm_env && args ? 0 : oom();
    char root[MAX_NAME];
    ctx c = {0};
    if (rc == 0)
        rc = params(&g, args);
    if (rc == 0)
        rc = unique(g.names, "runnable-dag", root, sizeof root);
    if (rc == 0)
        rc = graph_template(&g, in->dag, "", root, &c);
    if (rc == 0 && json_array_size(g.templates) > MAX_TEMPLATES)
        rc = rn_error_set(RN_EINVAL, "%s: the manifest would need %zu templates, more than "
                          "Argo's %d: steps share templates unless their override, secrets, "
                          "retries or timeout differ, so make fewer of those differ",
                          in->pipeline_file, json_array_size(g.templates), MAX_TEMPLATES);
    if (rc == 0) {
        json_t *spec = workflow_spec(&g, args);
        json_t *md = json_deep_copy(s->metadata);
        if (s->cron) {
            /* A CronWorkflow has a fixed name: generateName without its
             * trailing '-'; each run is <name>-<time>, its run id. */
            const char *gn = json_string_value(json_object_get(md, "generateName"));
            char name[64];
            snprintf(name, sizeof name, "%s", gn);
            size_t l = strlen(name);
            if (l && name[l - 1] == '-')
                name[l - 1] = '\0';
            json_object_del(md, "generateName");
            json_t *m2 = json_pack("{s:s}", "name", name);
            json_object_update(m2, md);
            json_decref(md);
            md = m2;
            json_t *cs = json_deep_copy(s->cron);
            json_object_set_new(cs, "workflowSpec", spec);
            *out = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "argoproj.io/v1alpha1",
                             "kind", "CronWorkflow", "metadata", md, "spec", cs);
        } else {
            *out = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "argoproj.io/v1alpha1",
                             "kind", "Workflow", "metadata", md, "spec", spec);
        }
        if (!*out)
            rc = oom();
    }
    json_decref(args);
    json_decref(g.templates);
    json_decref(g.names);
    json_decref(g.leaves);
    json_decref(g.prm_env);
    return rc;
}
