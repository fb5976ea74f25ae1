/* Pipeline loading and validation (spec/pipeline-format.md Part 1). */

#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "pipeline.h"

static void print_diags(const rn_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = rn_diag_format(&d->items[i]);
        print_error("  %s\n", s);
        free(s);
    }
}

static rn_pipeline *load_ok(const char *text)
{
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    int rc = rn_pipeline_load_string(text, strlen(text), "p.yaml", NULL, NULL, &d, &p);
    if (rc != 0 || d.n)
        print_diags(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(p);
    rn_diag_free(&d);
    return p;
}

/* Expects the load to fail with, among others, a diagnostic at line:col
 * containing `needle`; returns how many diagnostics there were. */
static size_t load_bad(const char *text, int line, int col, const char *needle)
{
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    int rc = rn_pipeline_load_string(text, strlen(text), "p.yaml", NULL, NULL, &d, &p);
    assert_int_equal(rc, RN_EINVAL);
    assert_null(p);
    int found = 0;
    for (size_t i = 0; i < d.n; i++) {
        assert_string_equal(d.items[i].file, "p.yaml");
        if (d.items[i].line == line && d.items[i].col == col &&
            strstr(d.items[i].message, needle))
            found = 1;
    }
    if (!found) {
        print_diags(&d);
        fail_msg("no diagnostic at %d:%d containing '%s'", line, col, needle);
    }
    size_t n = d.n;
    rn_diag_free(&d);
    return n;
}

/* ------------------------------------------------------------------ */
/* The compatibility corpus                                            */
/* ------------------------------------------------------------------ */

static int has_top_level_dag(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int yes = 0;
    if (!f)
        return 0;
    while (!yes && fgets(line, sizeof line, f))
        yes = !strncmp(line, "dag:", 4);
    fclose(f);
    return yes;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void walk(const char *dir, int *loaded, int *failed)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path, loaded, failed);
            continue;
        }
        if (!(ends_with(path, ".yaml") || ends_with(path, ".yml")) || !has_top_level_dag(path))
            continue;
        rn_diag diag = {0};
        rn_pipeline *p = NULL;
        int rc = rn_pipeline_load(path, NULL, NULL, &diag, &p);
        if (rc != 0 || diag.n) {
            print_error("%s: rc=%d %s\n", path, rc, rn_error_last());
            print_diags(&diag);
            (*failed)++;
        } else {
            assert_non_null(rn_pipeline_dag_json(p));
            assert_int_equal(strlen(rn_pipeline_dag_hash(p)), 40);
        }
        (*loaded)++;
        rn_pipeline_free(p);
        rn_diag_free(&diag);
    }
    closedir(d);
}

static void test_corpus_loads(void **state)
{
    (void)state;
    char dir[4096];
    const char *shared = getenv("RN_SHARED_DIR");
    const char *src = getenv("RN_SRCDIR");
    if (shared)
        snprintf(dir, sizeof dir, "%s/runnable-examples", shared);
    else if (src)
        snprintf(dir, sizeof dir, "%s/../shared/runnable-examples", src);
    else
        skip();
    struct stat st;
    if (stat(dir, &st) < 0)
        skip();
    int loaded = 0, failed = 0;
    walk(dir, &loaded, &failed);
    assert_int_equal(failed, 0);
    /* The corpus has 24 pipelines; never silently test none. */
    assert_true(loaded >= 24);
}

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

static void test_task_defaults(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n"
                             "  description: d\n"
                             "  start_at: t\n"
                             "  steps:\n"
                             "    t:\n"
                             "      type: task\n"
                             "      command: mod.fn\n"
                             "      returns:\n"
                             "        - name: a\n"
                             "        - name: b\n"
                             "          kind: metric\n"
                             "      next: success\n");
    rn_graph *g = p->dag;
    assert_string_equal(g->start_at, "t");
    assert_string_equal(g->description, "d");
    assert_string_equal(g->internal_name, "");
    assert_null(g->parent);
    assert_int_equal(g->n_nodes, 3);
    assert_ptr_equal(g->start, g->nodes[0]);

    rn_node *t = g->nodes[0];
    assert_int_equal(t->type, RN_NODE_TASK);
    assert_string_equal(t->command_type, "python");
    assert_string_equal(t->command, "mod.fn");
    assert_int_equal(t->max_attempts, 1);
    assert_int_equal(json_object_size(t->overrides), 0);
    assert_null(t->catalog);
    assert_null(t->on_failure);
    assert_ptr_equal(t->next_node, g->nodes[1]);
    assert_int_equal(json_array_size(t->secrets), 0);
    json_t *want = json_loads("[{\"name\": \"a\", \"kind\": \"json\"},"
                              " {\"name\": \"b\", \"kind\": \"metric\"}]", 0, NULL);
    assert_true(json_equal(t->returns, want));
    json_decref(want);
    assert_int_equal(t->pos.line, 5);
    assert_int_equal(t->pos.col, 5);

    /* Implicit terminals come last, success then fail. */
    assert_string_equal(g->nodes[1]->name, "success");
    assert_int_equal(g->nodes[1]->type, RN_NODE_SUCCESS);
    assert_string_equal(g->nodes[2]->name, "fail");
    assert_int_equal(g->nodes[2]->type, RN_NODE_FAIL);
    assert_null(g->nodes[1]->next);
    assert_ptr_equal(rn_graph_find(g, "fail"), g->nodes[2]);
    assert_null(rn_graph_find(g, "nope"));
    rn_pipeline_free(p);
}

static void test_fields_parsed(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok(
        "dag:\n"
        "  start_at: t\n"
        "  steps:\n"
        "    t:\n"
        "      type: task\n"
        "      command_type: shell\n"
        "      command: echo\n"
        "      secrets: [A, B]\n"
        "      catalog:\n"
        "        put: [out/*.csv]\n"
        "        store_copy: false\n"
        "      max_attempts: 3\n"
        "      timeout: 2.5\n"
        "      retry: {delay: 1, factor: 2, max_delay: 30, jitter: true}\n"
        "      overrides: {argo: gpu}\n"
        "      skip_on_error: true\n"
        "      on_failure: s\n"
        "      next: success\n"
        "    s:\n"
        "      type: stub\n"
        "      whatever: 1\n"
        "      catalog: {get: [x]}\n"
        "      next: fail\n");
    rn_node *t = rn_graph_find(p->dag, "t"), *s = rn_graph_find(p->dag, "s");
    assert_string_equal(t->command_type, "shell");
    assert_int_equal(json_array_size(t->secrets), 2);
    json_t *cat = json_loads("{\"get\": [], \"put\": [\"out/*.csv\"], \"store_copy\": false}",
                             0, NULL);
    assert_true(json_equal(t->catalog, cat));
    json_decref(cat);
    assert_int_equal(t->max_attempts, 3);
    assert_true(t->timeout == 2.5);
    assert_int_equal(json_integer_value(json_object_get(t->retry, "max_delay")), 30);
    assert_string_equal(json_string_value(json_object_get(t->overrides, "argo")), "gpu");
    assert_int_equal(t->skip_on_error, 1);
    assert_ptr_equal(t->on_failure_node, s);
    assert_int_equal(s->type, RN_NODE_STUB);
    assert_true(json_is_true(json_object_get(s->catalog, "store_copy")));
    assert_ptr_equal(s->next_node, rn_graph_find(p->dag, "fail"));
    rn_pipeline_free(p);
}

static const char *nested_yaml =
    "branch: &br\n"
    "  start_at: t\n"
    "  steps:\n"
    "    t: {type: stub, next: success}\n"
    "dag:\n"
    "  start_at: par\n"
    "  steps:\n"
    "    par:\n"
    "      type: parallel\n"
    "      branches:\n"
    "        left: *br\n"
    "        right:\n"
    "          start_at: m\n"
    "          steps:\n"
    "            m:\n"
    "              type: map\n"
    "              iterate_on: items\n"
    "              iterate_as: item\n"
    "              reducer: \"lambda *x: max(x)\"\n"
    "              branch: *br\n"
    "              next: success\n"
    "      next: lp\n"
    "    lp:\n"
    "      type: loop\n"
    "      max_iterations: 3\n"
    "      break_on: done\n"
    "      index_as: IDX\n"
    "      branch: *br\n"
    "      next: cond\n"
    "    cond:\n"
    "      type: conditional\n"
    "      parameter: coin_side\n"
    "      branches:\n"
    "        heads: *br\n"
    "        \"1\": *br\n"
    "      default: *br\n"
    "      next: success\n";

static void test_nested_internal_names(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok(nested_yaml);
    struct { const char *name; rn_node_type type; } want[] = {
        {"par", RN_NODE_PARALLEL},
        {"par.left.t", RN_NODE_STUB},
        {"par.left.success", RN_NODE_SUCCESS},
        {"par.right.m", RN_NODE_MAP},
        {"par.right.m.map_variable_placeholder.t", RN_NODE_STUB},
        {"par.right.m.map_variable_placeholder.fail", RN_NODE_FAIL},
        {"lp.loop_variable_placeholder.t", RN_NODE_STUB},
        {"cond.heads.t", RN_NODE_STUB},
        {"cond.1.t", RN_NODE_STUB},
        {"cond.default.t", RN_NODE_STUB},
        {"success", RN_NODE_SUCCESS},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rn_node *n = rn_pipeline_find(p, want[i].name);
        if (!n)
            fail_msg("%s not found", want[i].name);
        assert_string_equal(n->internal_name, want[i].name);
        assert_int_equal(n->type, want[i].type);
    }
    assert_null(rn_pipeline_find(p, "par.middle.t"));
    assert_null(rn_pipeline_find(p, "par.left"));
    assert_null(rn_pipeline_find(p, "lp.map_variable_placeholder.t"));
    assert_null(rn_pipeline_find(p, "nope"));

    rn_node *par = rn_pipeline_find(p, "par");
    assert_int_equal(par->n_branches, 2);
    assert_string_equal(par->branch_keys[0], "left");
    assert_string_equal(par->branches[1]->internal_name, "par.right");
    assert_ptr_equal(par->branches[0]->parent, par);
    rn_node *m = rn_pipeline_find(p, "par.right.m");
    assert_string_equal(m->iterate_on, "items");
    assert_string_equal(m->iterate_as, "item");
    assert_string_equal(m->reducer, "lambda *x: max(x)");
    assert_string_equal(m->branch->internal_name, "par.right.m.map_variable_placeholder");
    rn_node *lp = rn_pipeline_find(p, "lp");
    assert_int_equal(lp->max_iterations, 3);
    assert_string_equal(lp->break_on, "done");
    assert_string_equal(lp->index_as, "IDX");
    rn_node *cond = rn_pipeline_find(p, "cond");
    /* Any parameter name: DESIGN.md lifts runnable's letters-and-digits rule. */
    assert_string_equal(cond->parameter, "coin_side");
    assert_non_null(cond->default_branch);
    assert_string_equal(cond->default_graph->internal_name, "cond.default");

    /* The aliased branch is built separately for each use. */
    assert_ptr_not_equal(rn_pipeline_find(p, "par.left.t"), rn_pipeline_find(p, "cond.heads.t"));
    /* Positions under an alias point at the anchored text. */
    assert_int_equal(rn_pipeline_find(p, "cond.heads.t")->pos.line, 4);
    rn_pipeline_free(p);
}

static void test_explicit_terminals_keep_place(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n"
                             "  start_at: a\n"
                             "  steps:\n"
                             "    a: {type: stub, next: success}\n"
                             "    success: {type: success}\n"
                             "    b: {type: stub, next: fail}\n");
    rn_graph *g = p->dag;
    assert_int_equal(g->n_nodes, 4);
    assert_string_equal(g->nodes[1]->name, "success");
    assert_string_equal(g->nodes[2]->name, "b");
    assert_string_equal(g->nodes[3]->name, "fail");
    rn_pipeline_free(p);
}

static void test_anchors_and_merge_keys(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("shell_task: &sh\n"
                             "  type: task\n"
                             "  command_type: shell\n"
                             "  next: success\n"
                             "dag:\n"
                             "  start_at: a\n"
                             "  steps:\n"
                             "    a:\n"
                             "      <<: *sh\n"
                             "      command: echo a\n"
                             "      next: b\n"
                             "    b:\n"
                             "      <<: *sh\n"
                             "      command: echo b\n");
    rn_node *a = rn_graph_find(p->dag, "a"), *b = rn_graph_find(p->dag, "b");
    assert_string_equal(a->command_type, "shell");
    assert_string_equal(a->next, "b");
    assert_string_equal(b->next, "success");
    assert_string_equal(b->command, "echo b");
    assert_null(json_object_get(a->raw, "<<"));
    rn_pipeline_free(p);

    /* A problem in merged text is reported where that text is. */
    load_bad("bad: &bad\n"
             "  type: task\n"
             "  colour: red\n"
             "dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a:\n"
             "      <<: *bad\n"
             "      command: x\n"
             "      next: success\n", 3, 3, "unknown field 'colour'");
}

static void test_yes_stays_text(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n"
                             "  start_at: yes\n"
                             "  steps:\n"
                             "    yes: {type: stub, next: on}\n"
                             "    on: {type: stub, next: success}\n");
    assert_string_equal(p->dag->start_at, "yes");
    assert_string_equal(rn_graph_find(p->dag, "yes")->next, "on");
    rn_pipeline_free(p);

    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a:\n"
             "      type: stub\n"
             "      catalog: {store_copy: yes}\n"
             "      next: success\n", 6, 17, "'yes'/'no'/'on'/'off' are text");
}

static void test_dag_mode(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n"
                             "  stop_on_first_failure: false\n"
                             "  steps:\n"
                             "    a: {type: stub}\n"
                             "    b: {type: stub, depends_on: [a]}\n"
                             "    c:\n"
                             "      type: task\n"
                             "      command: x\n"
                             "      depends_on: [a, b]\n"
                             "      skip_on_error: true\n");
    rn_graph *g = p->dag;
    assert_int_equal(g->is_dag, 1);
    assert_int_equal(g->stop_on_first_failure, 0);
    assert_null(g->start_at);
    rn_node *a = rn_graph_find(g, "a"), *b = rn_graph_find(g, "b"), *c = rn_graph_find(g, "c");
    assert_int_equal(a->n_depends_on, 0);
    assert_int_equal(c->n_depends_on, 2);
    assert_ptr_equal(c->depends_on_nodes[0], a);
    assert_ptr_equal(c->depends_on_nodes[1], b);
    assert_string_equal(c->depends_on[1], "b");
    assert_null(c->next);
    assert_int_equal(c->skip_on_error, 1);
    rn_pipeline_free(p);

    /* A chained graph keeps its default (false) and is not a DAG. */
    p = load_ok("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n");
    assert_int_equal(p->dag->is_dag, 0);
    assert_int_equal(p->dag->stop_on_first_failure, 0);
    rn_pipeline_free(p);
}

/* ------------------------------------------------------------------ */
/* Problems                                                            */
/* ------------------------------------------------------------------ */

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a:\n"
             "      type: stub\n"
             "      next: [success\n", 7, 1, "invalid YAML");
}

static void test_missing_next_target(void **state)
{
    (void)state;
    size_t n = load_bad("dag:\n"
                        "  start_at: a\n"
                        "  steps:\n"
                        "    a:\n"
                        "      type: stub\n"
                        "      next: b\n"
                        "    c:\n"
                        "      type: stub\n"
                        "      on_failure: d\n"
                        "      next: success\n",
                        6, 7, "next points to 'b', which is not a step");
    /* All missing names are reported, and no cycle check runs. */
    assert_int_equal(n, 2);
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n"
             "      on_failure: d\n      next: success\n", 6, 7, "on_failure points to 'd'");
    /* Targets are looked up in the same graph only. */
    load_bad("dag:\n"
             "  start_at: p\n"
             "  steps:\n"
             "    p:\n"
             "      type: parallel\n"
             "      branches:\n"
             "        x:\n"
             "          start_at: t\n"
             "          steps:\n"
             "            t: {type: stub, next: q}\n"
             "      next: q\n"
             "    q: {type: stub, next: success}\n", 10, 29, "not a step of branch 'p.x'");
}

static void test_cycle(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a:\n"
             "      type: stub\n"
             "      next: b\n"
             "    b:\n"
             "      type: stub\n"
             "      next: c\n"
             "    c:\n"
             "      type: stub\n"
             "      next: a\n", 12, 7, "'a' -> 'b' -> 'c' -> 'a'");
    /* on_failure edges count too. */
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a: {type: stub, next: b}\n"
             "    b: {type: stub, next: success, on_failure: a}\n", 5, 36, "cycle");
    /* A self loop. */
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: a}\n", 4, 21, "cycle");
}

static void test_unknown_task_field(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a:\n"
             "      type: task\n"
             "      command: x\n"
             "      comand_type: shell\n"
             "      next: success\n", 7, 7, "unknown field 'comand_type'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      optional_ploomber_args: {}\n      next: success\n", 7, 7,
             "only for notebook tasks");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: parallel\n"
             "      max_attempts: 2\n      branches: {b: {start_at: s, steps: "
             "{s: {type: stub, next: success}}}}\n      next: success\n", 6, 7,
             "unknown field 'max_attempts'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      terminate_with_success: true\n      next: success\n", 7, 7,
             "Python SDK");
}

static void test_reserved_names(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a: {type: stub, next: success}\n"
             "    success:\n"
             "      type: task\n"
             "      command: x\n"
             "      next: fail\n", 5, 5, "reserved");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: done}\n"
             "    done:\n      type: success\n", 6, 7, "already has its 'success' step");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n"
             "    fail:\n      type: fail\n      next: a\n", 7, 7, "takes only 'type'");
}

static void test_bad_names(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  start_at: a\n"
             "  steps:\n"
             "    a: {type: stub, next: b.c}\n"
             "    b.c: {type: stub, next: success}\n", 5, 5, "contains '.'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n"
             "    x%y: {type: stub, next: success}\n", 5, 5, "contains '%'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n"
             "    1: {type: stub, next: success}\n", 5, 5, "quote it (\"1\")");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: success}\n"
             "    true: {type: stub, next: success}\n", 5, 5, "a boolean");
    load_bad("dag:\n  start_at: p\n  steps:\n    p:\n      type: parallel\n"
             "      branches:\n        1.5: {start_at: s, steps: {s: {type: stub, next: "
             "success}}}\n      next: success\n", 7, 9, "branch name 1.5");
}

static void test_mixing_next_and_depends_on(void **state)
{
    (void)state;
    load_bad("dag:\n"
             "  steps:\n"
             "    a:\n"
             "      type: stub\n"
             "    b:\n"
             "      type: stub\n"
             "      depends_on: [a]\n"
             "    c:\n"
             "      type: stub\n"
             "      next: success\n", 10, 7, "uses next, but the dag chains its steps "
             "with depends_on");
    load_bad("dag:\n  steps:\n    a: {type: stub, depends_on: [b]}\n"
             "    b: {type: stub, depends_on: [a]}\n", 4, 34, "depends_on forms a cycle");
    load_bad("dag:\n  steps:\n    a: {type: stub, depends_on: [zz]}\n", 3, 34,
             "depends_on names 'zz'");
    load_bad("dag:\n  steps:\n    a: {type: stub, depends_on: [success]}\n", 3, 34,
             "end step");
    load_bad("dag:\n  steps:\n    a: {type: stub, depends_on: a}\n", 3, 21,
             "must be a list");
}

static void test_graph_problems(void **state)
{
    (void)state;
    load_bad("pipeline:\n  start_at: a\n", 1, 1, "no top-level 'dag' key");
    load_bad("- 1\n", 1, 1, "must be a mapping");
    load_bad("dag:\n  steps:\n    a: {type: stub, next: success}\n", 1, 1, "no 'start_at'");
    load_bad("dag:\n  start_at: b\n  steps:\n    a: {type: stub, next: success}\n", 2, 3,
             "start_at names 'b'");
    load_bad("dag:\n  start_at: a\n", 1, 1, "no 'steps'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {next: success}\n", 4, 5, "no 'type'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: dag, next: success}\n", 4, 9,
             "not a node type");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub}\n", 4, 5, "has no 'next'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: ''}\n", 4, 21,
             "'next' is empty");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: parallel, branches: {}, next: "
             "success}\n", 4, 25, "at least one branch");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: map, iterate_on: x, iterate_as: "
             "y, next: success}\n", 4, 5, "needs 'branch'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: loop\n      max_iterations: 0\n"
             "      break_on: b\n      index_as: i\n      branch: {start_at: s, steps: {s: "
             "{type: stub, next: success}}}\n      next: success\n", 6, 7, "at least 1, not 0");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: loop\n"
             "      branch: {start_at: s, steps: {s: {type: stub, next: success}}}\n"
             "      next: success\n", 4, 5, "'break_on' is missing");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: conditional\n"
             "      branches: {b: {start_at: s, steps: {s: {type: stub, next: success}}}}\n"
             "      next: success\n", 4, 5, "'parameter' is missing");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: {type: task, next: success}\n", 4, 5,
             "'command' is missing");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      returns: [{name: r, kind: blob}]\n      next: success\n", 7, 27,
             "return kind 'blob'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      retry: {delay: 1, backoff: 2}\n      next: success\n", 7, 25,
             "unknown retry key 'backoff'");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      timeout: 0\n      next: success\n", 7, 7, "greater than 0");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n"
             "      max_attempts: 99999999999\n      next: success\n", 6, 7, "too large");
    load_bad("dag:\n  start_at: a\n  steps:\n    a: [1, 2]\n", 4, 5, "must be a mapping");
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n      command: x\n"
             "      overrides: {argo: 1}\n      next: success\n", 7, 19, "overrides 'argo'");
}

static void test_all_problems_reported(void **state)
{
    (void)state;
    size_t n = load_bad("dag:\n"
                        "  start_at: a\n"
                        "  steps:\n"
                        "    a: {type: task, command: x, colour: red, next: b}\n"
                        "    c: {type: stub, next: d}\n"
                        "    e.f: {type: stub, next: success}\n"
                        "    p:\n"
                        "      type: parallel\n"
                        "      branches:\n"
                        "        x:\n"
                        "          start_at: t\n"
                        "          steps:\n"
                        "            t: {type: bogus, next: success}\n"
                        "      next: success\n",
                        4, 33, "unknown field 'colour'");
    /* colour, b, d, e.f, bogus */
    assert_int_equal(n, 5);
}

static int check_calls;

static int reject_notebooks(const char *command_type, const json_t *task, void *data)
{
    (void)data;
    check_calls++;
    assert_non_null(json_object_get(task, "command"));
    if (!strcmp(command_type, "notebook"))
        return rn_error_set(RN_EINVAL, "no notebook support here");
    if (!strcmp(command_type, "cobol"))
        return RN_EINVAL;
    return 0;
}

static void test_task_check_callback(void **state)
{
    (void)state;
    const char *text = "dag:\n"
                       "  start_at: a\n"
                       "  steps:\n"
                       "    a: {type: task, command: f, next: b}\n"
                       "    b:\n"
                       "      type: task\n"
                       "      command_type: notebook\n"
                       "      command: x.ipynb\n"
                       "      next: c\n"
                       "    c: {type: task, command_type: cobol, command: y, next: s}\n"
                       "    s: {type: stub, next: success}\n";
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    check_calls = 0;
    assert_int_equal(rn_pipeline_load_string(text, strlen(text), "p.yaml", reject_notebooks,
                                             NULL, &d, &p), RN_EINVAL);
    assert_int_equal(check_calls, 3);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.items[0].line, 7);
    assert_int_equal(d.items[0].col, 7);
    assert_non_null(strstr(d.items[0].message, "no notebook support here"));
    assert_non_null(strstr(d.items[0].message, "step 'b'"));
    assert_int_equal(d.items[1].line, 10);
    assert_non_null(strstr(d.items[1].message, "rejected"));
    rn_diag_free(&d);
}

static void test_file_errors(void **state)
{
    (void)state;
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    assert_int_equal(rn_pipeline_load("/nonexistent/p.yaml", NULL, NULL, &d, &p), RN_ENOENT);
    assert_null(p);
    assert_int_equal(d.n, 0);

    char path[] = "/tmp/rn_pipeline_testXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: nowhere}\n", f);
    fclose(f);
    assert_int_equal(rn_pipeline_load(path, NULL, NULL, &d, &p), RN_EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].file, path);
    assert_int_equal(d.items[0].line, 4);
    remove(path);
    rn_diag_free(&d);
}

/* RN_PL_QUICK: the same checks without positions (a key YAML reads as a
 * number is still refused); the top level's positions come on demand. */
static void test_quick_load(void **state)
{
    (void)state;
    char path[] = "/tmp/rn_pipeline_quickXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("dag:\n  start_at: a\n  steps:\n    a: {type: stub, next: b}\n"
          "    b:\n      type: stub\n      next: success\n", f);
    fclose(f);
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    assert_int_equal(rn_pipeline_load_step(path, NULL, RN_PL_QUICK, NULL, NULL, &d, &p), 0);
    rn_node *b = rn_graph_find(p->dag, "b"), *ok = rn_graph_find(p->dag, "success");
    assert_int_equal(b->pos.line, 0);
    assert_int_equal(rn_pipeline_root_positions(p), 0);
    assert_int_equal(b->pos.line, 5);
    assert_int_equal(b->pos.col, 5);
    assert_int_equal(ok->pos.line, 1); /* an implicit end: the graph's key */
    rn_pipeline_free(p);

    f = fopen(path, "w");
    fputs("dag:\n  start_at: '1'\n  steps:\n    1: {type: stub, next: success}\n", f);
    fclose(f);
    assert_int_equal(rn_pipeline_load_step(path, NULL, RN_PL_QUICK, NULL, NULL, &d, &p),
                     RN_EINVAL);
    assert_null(p);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].message, "as an integer"));
    remove(path);
    rn_diag_free(&d);
}

/* Graphs of 10,000 steps must load in linear time (name index, iterative
 * cycle search): a recursive or quadratic check would show here. */
static void test_long_chain(void **state)
{
    (void)state;
    const int n = 10000;
    size_t cap = (size_t)n * 64 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "dag:\n  start_at: s0\n  steps:\n");
    for (int i = 0; i < n; i++) {
        if (i + 1 < n)
            len += (size_t)snprintf(text + len, cap - len,
                                    "    s%d: {type: stub, next: s%d}\n", i, i + 1);
        else
            len += (size_t)snprintf(text + len, cap - len,
                                    "    s%d: {type: stub, next: success}\n", i);
    }
    rn_pipeline *p = load_ok(text);
    assert_int_equal(p->dag->n_nodes, (size_t)n + 2);
    assert_ptr_equal(rn_pipeline_find(p, "s9999")->next_node, rn_graph_find(p->dag, "success"));
    rn_pipeline_free(p);

    /* The same chain closed into a loop is found without deep recursion. */
    char *last = strstr(text, "s9999: {type: stub, next: success}");
    assert_non_null(last);
    strcpy(last, "s9999: {type: stub, next: s0}\n");
    rn_diag d = {0};
    assert_int_equal(rn_pipeline_load_string(text, strlen(text), "p.yaml", NULL, NULL, &d, &p),
                     RN_EINVAL);
    if (d.n != 1 || !strstr(d.items[0].message, "cycle"))
        print_diags(&d);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].message, "cycle"));
    rn_diag_free(&d);
    free(text);
}

/* The branch a conditional takes: exact key (as Python str() prints the
 * value), else `default`, else none. */
static void test_conditional_choice(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok(nested_yaml);
    rn_node *cond = rn_pipeline_find(p, "cond");
    assert_non_null(cond);
    const char *key = NULL;
    assert_ptr_equal(rn_conditional_choose(cond, "heads", &key), cond->branches[0]);
    assert_string_equal(key, "heads");
    assert_ptr_equal(rn_conditional_choose(cond, "1", &key), cond->branches[1]);
    assert_string_equal(key, "1");
    assert_ptr_equal(rn_conditional_choose(cond, "tails", &key), cond->default_graph);
    assert_string_equal(key, "default");
    rn_pipeline_free(p);

    p = load_ok("dag:\n  start_at: c\n  steps:\n    c:\n      type: conditional\n"
                "      parameter: x\n      branches:\n        a:\n          start_at: t\n"
                "          steps:\n            t: {type: stub, next: success}\n"
                "      next: success\n");
    cond = rn_pipeline_find(p, "c");
    assert_null(rn_conditional_choose(cond, "b", &key));
    assert_non_null(rn_conditional_choose(cond, "a", &key));
    rn_pipeline_free(p);
}

static void test_node_type_names(void **state)
{
    (void)state;
    assert_string_equal(rn_node_type_name(RN_NODE_TASK), "task");
    assert_string_equal(rn_node_type_name(RN_NODE_CONDITIONAL), "conditional");
    assert_string_equal(rn_node_type_name(RN_NODE_LOOP), "loop");
    assert_string_equal(rn_node_type_name((rn_node_type)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_loads),
        cmocka_unit_test(test_task_defaults),
        cmocka_unit_test(test_fields_parsed),
        cmocka_unit_test(test_nested_internal_names),
        cmocka_unit_test(test_explicit_terminals_keep_place),
        cmocka_unit_test(test_anchors_and_merge_keys),
        cmocka_unit_test(test_yes_stays_text),
        cmocka_unit_test(test_dag_mode),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_missing_next_target),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_unknown_task_field),
        cmocka_unit_test(test_reserved_names),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_mixing_next_and_depends_on),
        cmocka_unit_test(test_graph_problems),
        cmocka_unit_test(test_all_problems_reported),
        cmocka_unit_test(test_task_check_callback),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_quick_load),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_conditional_choice),
        cmocka_unit_test(test_node_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
