/* The argo executor: settings (argo.c) and the manifest generator
 * (argo_gen.c). */
#ifndef RN_ARGO_H
#define RN_ARGO_H

#include "runnable/plugin.h"

/* The executor's settings, checked and turned into Argo's camelCase
 * shapes (spec/services.md §1.5.2; docs/argo.md). */
typedef struct rn_argo_settings {
    json_t *defaults;       /* image, imagePullPolicy, resources, env, ... */
    json_t *overrides;      /* name -> partial defaults */
    json_t *metadata;       /* generateName, labels, annotations, namespace */
    json_t *spec;           /* workflow spec fields passed through */
    json_t *volumes;        /* extra spec.volumes (custom_volumes) */
    json_t *mounts;         /* their volumeMounts */
    json_t *cron;           /* {schedules, timezone?} or NULL */
    char *pvc;              /* pvc_for_runnable or NULL */
    char *mount_path;       /* where the PVC is mounted and pods work */
    char *secret_from_k8s;  /* Kubernetes Secret holding task secrets */
    char *output_file;
    char *log_level;
    char *runnable;         /* the program in the image */
    int expose_params;
} rn_argo_settings;

/* Parse `config` (the `config:` mapping); errors name the setting. */
int rn_argo_settings_parse(const json_t *config, rn_argo_settings *out);
void rn_argo_settings_free(rn_argo_settings *s);

/* What the generator reads from the engine. */
typedef struct rn_argo_input {
    const json_t *dag;          /* run_config.dag form */
    const char *pipeline_file;  /* as the pods must name it */
    const char *config_file;    /* NULL: none */
    const json_t *parameters;   /* name -> {kind, value} */
} rn_argo_input;

/* Check what the manifest needs from the pipeline (override names,
 * secrets); < 0 with a message. */
int rn_argo_check(const rn_argo_settings *s, const rn_argo_input *in);
/* Call fn on the pipeline's graph and every graph nested in it (branches,
 * map and loop bodies, a conditional's default), outermost first;
 * `where` names the graph for a message ("the pipeline's graph", "branch
 * 'p.b'", "the branch of step 'p.m'").  Stops at fn's first < 0. */
typedef int (*rn_argo_graph_fn)(const json_t *graph, const char *where, void *data);
int rn_argo_each_graph(const json_t *dag, rn_argo_graph_fn fn, void *data);
/* Build the Workflow / CronWorkflow document (new reference). */
int rn_argo_generate(const rn_argo_settings *s, const rn_argo_input *in, json_t **out);

#endif
