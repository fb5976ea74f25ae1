/* runnable execute-single-node / runnable fan: one node of a stored run,
 * as container, Argo and Slurm executors run it (spec/cli.md §2.2-2.3,
 * docs/node-protocol.md).  Both spellings work: runnable's positional
 * `RUN_ID FILE STEP` (fan: `RUN_ID STEP FILE in|out`) and
 * `RUN_ID STEP [in|out] --file FILE`. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

static const char single_help[] =
    "usage: runnable execute-single-node [OPTIONS] RUN_ID PIPELINE.yaml STEP\n"
    "       runnable execute-single-node [OPTIONS] RUN_ID STEP --file PIPELINE.yaml\n"
    "\n"
    "Run one task, stub, success or fail step of run RUN_ID (the run log is created\n"
    "if the run has none yet), reading its parameters from the run-log store and\n"
    "writing its step log and results back.  STEP is the step's static internal name\n"
    "('%' for spaces): a.b.step, map.map_variable_placeholder.step.  One attempt; the\n"
    "caller retries.\n"
    "\n"
    "  -f, --file FILE          the pipeline\n"
    "  -c, --config FILE        configuration (run-log store, catalog, secrets)\n"
    "  -p, --parameters-file F  initial parameters, used when this node creates the run\n"
    "      --iter-variable JSON the iteration: {\"map_variable\": {\"x\": {\"value\": 1}},\n"
    "                           \"loop_variable\": [{\"value\": 0}]}, outermost first\n"
    "      --map-variable JSON  the map items alone: {\"x\": 1, \"y\": \"a\"}\n"
    "      --tag TAG            tag of a run this node creates\n"
    "      --log-level LEVEL    DEBUG, INFO, WARNING (default), ERROR, CRITICAL\n"
    "  -m, --mode yaml          how to read the pipeline (only yaml)\n"
    "      --plugin-path DIRS   extra plugin folders, searched first\n"
    "\n"
    "Exit status: 0 the step succeeded, 1 it failed or could not run, 2 bad usage or\n"
    "bad input.\n";

static const char fan_help[] =
    "usage: runnable fan [OPTIONS] RUN_ID STEP PIPELINE.yaml in|out\n"
    "       runnable fan [OPTIONS] RUN_ID STEP in|out --file PIPELINE.yaml\n"
    "\n"
    "Prepare (out) or finish (in) the parallel, map, conditional or loop step STEP of\n"
    "run RUN_ID, whose branches other processes run with execute-single-node.\n"
    "out: records the step and a log for every branch that will run, and prints (and\n"
    "     writes to --output) what the orchestrator needs as JSON: a map's items, the\n"
    "     key of the branch a conditional takes, a parallel's branch keys.  A map\n"
    "     whose iterate_on is missing fails the step (exit 1).\n"
    "in:  the step's status from its branches, and their parameters merged back.\n"
    "loop: out records iteration 0 and prints 0; in, after each iteration, records\n"
    "     the next one and prints its index, or finishes the step and prints \"done\".\n"
    "\n"
    "  -f, --file FILE          the pipeline\n"
    "  -c, --config-file FILE   configuration (also --config)\n"
    "  -p, --parameters-file F  initial parameters, used when this node creates the run\n"
    "  -o, --output FILE        out: also write the JSON value to FILE\n"
    "      --quote-items        out: a map's items each as its JSON text (a list of\n"
    "                           strings), for orchestrators that paste an item as\n"
    "                           plain text (Argo's {{item}}) into --iter-variable\n"
    "      --iter-variable JSON, --map-variable JSON, --tag, --log-level, -m, --plugin-path\n"
    "                           as for execute-single-node\n"
    "\n"
    "Exit status: 0 the step is ready (out) or succeeded (in), 1 it failed, 2 bad\n"
    "usage or bad input.\n";

/* --map-variable {"x": 1} in runnable's --iter-variable form. */
static char *map_to_iter(const char *text)
{
    json_error_t err;
    json_t *m = json_loads(text, 0, &err);
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    json_t *mv = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
        json_object_set_new(mv, k, json_pack("{s:O}", "value", v));
    json_t *doc = json_pack("{s:o, s:[]}", "map_variable", mv, "loop_variable");
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    json_decref(m);
    return s;
}

/* ["x", 7] -> ["\"x\"", "7"]: each item as its JSON text; other values
 * as they are.  Takes `value` over. */
static char *quote_list(char *value)
{
    json_t *l = json_loads(value, JSON_DECODE_ANY, NULL);
    if (!json_is_array(l)) {
        json_decref(l);
        return value;
    }
    json_t *q = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(l, i, x) {
        char *t = rn_json_dumps_py(x, 0);
        json_array_append_new(q, json_string(t ? t : "null"));
        free(t);
    }
    char *s = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    json_decref(l);
    if (!s)
        return value;
    free(value);
    return s;
}

static int write_output(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s", value) < 0 || fclose(f) != 0) {
        fprintf(stderr, "runnable: error: cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return 0;
}

static int run_node(const char *cmd, int argc, char **argv, int fan)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"parameters-file", required_argument, NULL, 'p'},
        {"parameters", required_argument, NULL, 'p'},
        {"iter-variable", required_argument, NULL, 'I'},
        {"map-variable", required_argument, NULL, 'M'},
        {"tag", required_argument, NULL, 't'},
        {"mode", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"quote-items", no_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *help = fan ? fan_help : single_help;
    rn_run_options o = {.version = 4};
    const char *iter = NULL, *mapvar = NULL, *output = NULL;
    int c, quote_items = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:c:p:m:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.parameters_file = optarg; break;
        case 'I': iter = optarg; break;
        case 'M': mapvar = optarg; break;
        case 'Q':
            if (!fan)
                return rn_cli_usage_error(cmd, "--quote-items belongs to `runnable fan ... out`");
            quote_items = 1;
            break;
        case 't': o.tag = optarg; break;
        case 'o':
            if (!fan)
                return rn_cli_usage_error(cmd, "--output belongs to `runnable fan ... out`");
            output = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "yaml") != 0)
                return rn_cli_usage_error(cmd, "--mode %s: this engine reads YAML pipelines "
                                          "only (--mode yaml)", optarg);
            break;
        default: {
            int r = rn_cli_option(cmd, c, argv, help, &o.pipeline_file, &o);
            if (r != RN_CLI_HANDLED)
                return r;
        }
        }
    }
    /* Positionals: RUN_ID FILE STEP | RUN_ID STEP FILE in|out, or without
     * FILE when --file gave it. */
    char **pos = argv + optind;
    int npos = argc - optind, want = (fan ? 4 : 3) - (o.pipeline_file ? 1 : 0);
    if (npos != want)
        return rn_cli_usage_error(cmd, "expected %s, got %d argument%s",
                                  fan ? (o.pipeline_file ? "RUN_ID STEP in|out"
                                                         : "RUN_ID STEP PIPELINE.yaml in|out")
                                      : (o.pipeline_file ? "RUN_ID STEP"
                                                         : "RUN_ID PIPELINE.yaml STEP"),
                                  npos, npos == 1 ? "" : "s");
    const char *run_id = pos[0], *step, *mode = NULL;
    if (fan) {
        step = pos[1];
        if (!o.pipeline_file)
            o.pipeline_file = pos[2];
        mode = pos[want - 1];
        if (strcmp(mode, "in") != 0 && strcmp(mode, "out") != 0)
            return rn_cli_usage_error(cmd, "the last argument is 'in' or 'out', not '%s'",
                                      mode);
    } else if (o.pipeline_file) {
        step = pos[1];
    } else {
        o.pipeline_file = pos[1];
        step = pos[2];
    }
    if (!*run_id)
        return rn_cli_usage_error(cmd, "the run id is empty");
    if (iter && mapvar)
        return rn_cli_usage_error(cmd, "give --iter-variable or --map-variable, not both");
    char *iter_owned = NULL;
    if (mapvar && !(iter = iter_owned = map_to_iter(mapvar)))
        return rn_cli_usage_error(cmd, "--map-variable must be a JSON object of iterate_as "
                                  "names to items, like {\"chunk\": 1}");
    o.run_id = run_id;

    rn_engine *e = NULL;
    int code = rn_cli_prepare_node(&o, step, 0, RN_EXIT_FAILED, &e);
    if (code == RN_EXIT_OK) {
        int ok = 0;
        char *value = NULL;
        rn_cli_catch_stop_signals();
        int rc = rn_engine_run_node(e, step, iter, mode, &ok, fan ? &value : NULL);
        if (rc == RN_EINVAL) {
            fprintf(stderr, "runnable: error: %s\n", rn_error_last());
            code = RN_EXIT_USAGE;
        } else if (rc < 0) {
            fprintf(stderr, "runnable: error: %s\n", rn_error_last());
            code = RN_EXIT_FAILED;
        } else {
            if (value && quote_items && mode && strcmp(mode, "out") == 0)
                value = quote_list(value);
            if (value) {
                printf("%s\n", value);
                if (output && write_output(output, value) < 0)
                    code = RN_EXIT_FAILED;
            }
            if (!ok) {
                fprintf(stderr, "runnable: step %s of run %s failed\n", step, run_id);
                code = RN_EXIT_FAILED;
            }
        }
        free(value);
    }
    rn_engine_free(e);
    free(iter_owned);
    return code;
}

int rn_cmd_execute_single_node(int argc, char **argv)
{
    return run_node("execute-single-node", argc, argv, 0);
}

int rn_cmd_fan(int argc, char **argv)
{
    return run_node("fan", argc, argv, 1);
}
