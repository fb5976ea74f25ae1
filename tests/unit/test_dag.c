/* run_config.dag and dag_hash (spec/run-log.md 5.2, test vector of 8.1). */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "pipeline.h"

#define HASH_8_1 "b7e669831c0729172171c01cffa81a997d2b772f"

/* run_config.dag of the run log in spec/run-log.md 8.1, as printed there. */
static const char dag_8_1[] =
    "{\n"
    "  \"start_at\": \"prepare\",\n"
    "  \"name\": \"\",\n"
    "  \"description\": null,\n"
    "  \"nodes\": {\n"
    "    \"prepare\": {\n"
    "      \"node_type\": \"task\",\n"
    "      \"name\": \"prepare\",\n"
    "      \"next_node\": \"split\",\n"
    "      \"on_failure\": \"\",\n"
    "      \"overrides\": {},\n"
    "      \"catalog\": {\n"
    "        \"get\": [],\n"
    "        \"put\": [\n"
    "          \"data/raw.csv\"\n"
    "        ],\n"
    "        \"store_copy\": true\n"
    "      },\n"
    "      \"max_attempts\": 1,\n"
    "      \"command\": \"mymod.fns.prepare\",\n"
    "      \"returns\": [\n"
    "        {\n"
    "          \"name\": \"rows\"\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    \"split\": {\n"
    "      \"node_type\": \"parallel\",\n"
    "      \"name\": \"split\",\n"
    "      \"is_composite\": true,\n"
    "      \"next_node\": \"success\",\n"
    "      \"on_failure\": \"\",\n"
    "      \"overrides\": {},\n"
    "      \"branches\": {\n"
    "        \"left\": {\n"
    "          \"start_at\": \"count\",\n"
    "          \"name\": \"\",\n"
    "          \"description\": null,\n"
    "          \"nodes\": {\n"
    "            \"count\": {\n"
    "              \"node_type\": \"task\",\n"
    "              \"name\": \"count\",\n"
    "              \"next_node\": \"success\",\n"
    "              \"on_failure\": \"\",\n"
    "              \"overrides\": {},\n"
    "              \"catalog\": null,\n"
    "              \"max_attempts\": 1,\n"
    "              \"command\": \"mymod.fns.count\",\n"
    "              \"returns\": [\n"
    "                {\n"
    "                  \"name\": \"n_left\",\n"
    "                  \"kind\": \"metric\"\n"
    "                }\n"
    "              ]\n"
    "            },\n"
    "            \"success\": {\n"
    "              \"node_type\": \"success\",\n"
    "              \"name\": \"success\"\n"
    "            },\n"
    "            \"fail\": {\n"
    "              \"node_type\": \"fail\",\n"
    "              \"name\": \"fail\"\n"
    "            }\n"
    "          }\n"
    "        },\n"
    "        \"right\": {\n"
    "          \"start_at\": \"noop\",\n"
    "          \"name\": \"\",\n"
    "          \"description\": null,\n"
    "          \"nodes\": {\n"
    "            \"noop\": {\n"
    "              \"node_type\": \"stub\",\n"
    "              \"name\": \"noop\",\n"
    "              \"next_node\": \"success\",\n"
    "              \"on_failure\": \"\",\n"
    "              \"overrides\": {},\n"
    "              \"catalog\": null,\n"
    "              \"max_attempts\": 1\n"
    "            },\n"
    "            \"success\": {\n"
    "              \"node_type\": \"success\",\n"
    "              \"name\": \"success\"\n"
    "            },\n"
    "            \"fail\": {\n"
    "              \"node_type\": \"fail\",\n"
    "              \"name\": \"fail\"\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    \"success\": {\n"
    "      \"node_type\": \"success\",\n"
    "      \"name\": \"success\"\n"
    "    },\n"
    "    \"fail\": {\n"
    "      \"node_type\": \"fail\",\n"
    "      \"name\": \"fail\"\n"
    "    }\n"
    "  }\n"
    "}\n";

/* The pipeline that produced it: a task that puts a file, then a parallel
 * step whose branches hold a task returning a metric and a stub. */
static const char yaml_8_1[] =
    "dag:\n"
    "  start_at: prepare\n"
    "  steps:\n"
    "    prepare:\n"
    "      type: task\n"
    "      command: mymod.fns.prepare\n"
    "      returns:\n"
    "        - name: rows\n"
    "      catalog:\n"
    "        put: [data/raw.csv]\n"
    "      next: split\n"
    "    split:\n"
    "      type: parallel\n"
    "      next: success\n"
    "      branches:\n"
    "        left:\n"
    "          start_at: count\n"
    "          steps:\n"
    "            count:\n"
    "              type: task\n"
    "              command: mymod.fns.count\n"
    "              returns:\n"
    "                - name: n_left\n"
    "                  kind: metric\n"
    "              next: success\n"
    "        right:\n"
    "          start_at: noop\n"
    "          steps:\n"
    "            noop:\n"
    "              type: stub\n"
    "              next: success\n";

static rn_pipeline *load_ok(const char *text)
{
    rn_diag d = {0};
    rn_pipeline *p = NULL;
    int rc = rn_pipeline_load_string(text, strlen(text), "p.yaml", NULL, NULL, &d, &p);
    for (size_t i = 0; i < d.n; i++)
        print_error("%d:%d: %s\n", d.items[i].line, d.items[i].col, d.items[i].message);
    assert_int_equal(rc, 0);
    assert_non_null(p);
    rn_diag_free(&d);
    return p;
}

/* Keys of an object in order, joined by ','. */
static void key_order(const json_t *o, char *out, size_t cap)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)o, k, v)
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "", k);
}

static void assert_keys(const json_t *o, const char *want)
{
    char got[1024];
    assert_non_null(o);
    key_order(o, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_hash_of_spec_json(void **state)
{
    (void)state;
    json_error_t err;
    json_t *dag = json_loads(dag_8_1, 0, &err);
    assert_non_null(dag);
    char hex[41];
    assert_int_equal(rn_dag_hash(dag, hex), 0);
    assert_string_equal(hex, HASH_8_1);
    json_decref(dag);
}

static void test_hash_of_pipeline(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok(yaml_8_1);
    assert_string_equal(rn_pipeline_dag_hash(p), HASH_8_1);

    /* Not only the hash: the very document, in runnable's key order. */
    json_t *want = json_loads(dag_8_1, 0, NULL);
    assert_true(json_equal(rn_pipeline_dag_json(p), want));
    char *a = rn_json_dumps_py(rn_pipeline_dag_json(p), 0), *b = rn_json_dumps_py(want, 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(want);
    rn_pipeline_free(p);
}

static void test_field_order(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok(
        "dag:\n"
        "  description: |\n"
        "    two\n"
        "    lines\n"
        "  start_at: t\n"
        "  steps:\n"
        "    t:\n"
        "      next: m\n"
        "      secrets: [S]\n"
        "      type: task\n"
        "      max_attempts: 2\n"
        "      command: echo\n"
        "      command_type: shell\n"
        "      overrides: {argo: big}\n"
        "    m:\n"
        "      type: map\n"
        "      iterate_on: xs\n"
        "      iterate_as: x\n"
        "      next: l\n"
        "      branch: {start_at: s, steps: {s: {type: stub, next: success}}}\n"
        "    l:\n"
        "      type: loop\n"
        "      max_iterations: 4\n"
        "      break_on: done\n"
        "      index_as: i\n"
        "      next: c\n"
        "      on_failure: t2\n"
        "      branch: {start_at: s, steps: {s: {type: stub, next: success}}}\n"
        "    c:\n"
        "      type: conditional\n"
        "      parameter: p\n"
        "      branches: {a: {start_at: s, steps: {s: {type: stub, next: success}}}}\n"
        "      next: success\n"
        "    t2: {type: task, command: f, next: fail}\n");
    const json_t *g = rn_pipeline_dag_json(p);
    assert_keys(g, "start_at,name,description,nodes");
    assert_string_equal(json_string_value(json_object_get(g, "description")), "two\nlines\n");
    json_t *nodes = json_object_get(g, "nodes");
    assert_keys(nodes, "t,m,l,c,t2,success,fail");

    json_t *t = json_object_get(nodes, "t");
    /* The task's own keys come after the model's, in the order written. */
    assert_keys(t, "node_type,name,next_node,on_failure,overrides,catalog,max_attempts,"
                   "secrets,command,command_type");
    assert_int_equal(json_integer_value(json_object_get(t, "max_attempts")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "overrides"),
                                                          "argo")), "big");
    assert_true(json_is_null(json_object_get(t, "catalog")));

    json_t *m = json_object_get(nodes, "m");
    assert_keys(m, "node_type,name,is_composite,next_node,on_failure,overrides,iterate_on,"
                   "iterate_as,reducer,branch");
    assert_true(json_is_null(json_object_get(m, "reducer")));
    assert_keys(json_object_get(m, "branch"), "start_at,name,description,nodes");
    assert_keys(json_object_get(json_object_get(m, "branch"), "nodes"), "s,success,fail");

    json_t *l = json_object_get(nodes, "l");
    assert_keys(l, "node_type,name,is_composite,next_node,on_failure,overrides,branch,"
                   "max_iterations,break_on,index_as");
    assert_string_equal(json_string_value(json_object_get(l, "on_failure")), "t2");

    json_t *c = json_object_get(nodes, "c");
    assert_keys(c, "node_type,name,is_composite,next_node,on_failure,overrides,parameter,"
                   "default,branches");
    assert_true(json_is_null(json_object_get(c, "default")));

    assert_keys(json_object_get(nodes, "success"), "node_type,name");
    rn_pipeline_free(p);
}

static void test_written_keys_change_hash(void **state)
{
    (void)state;
    /* runnable hashes the task keys as written, so spelling out the
     * default command_type changes the hash. */
    rn_pipeline *a = load_ok("dag:\n  start_at: t\n  steps:\n"
                             "    t: {type: task, command: f, next: success}\n");
    rn_pipeline *b = load_ok("dag:\n  start_at: t\n  steps:\n"
                             "    t: {type: task, command: f, command_type: python, "
                             "next: success}\n");
    rn_pipeline *c = load_ok("dag:\n  start_at: t\n  steps:\n"
                             "    t: {type: task, command: f, next: success}\n");
    assert_string_not_equal(rn_pipeline_dag_hash(a), rn_pipeline_dag_hash(b));
    assert_string_equal(rn_pipeline_dag_hash(a), rn_pipeline_dag_hash(c));
    const json_t *ta = json_object_get(json_object_get(rn_pipeline_dag_json(a), "nodes"), "t");
    assert_null(json_object_get(ta, "command_type"));
    rn_pipeline_free(a);
    rn_pipeline_free(b);
    rn_pipeline_free(c);
}

static void test_catalog_normalised(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n  start_at: t\n  steps:\n"
                             "    t:\n"
                             "      type: stub\n"
                             "      catalog: {store_copy: false, get: [a]}\n"
                             "      next: success\n");
    json_t *cat = json_object_get(json_object_get(json_object_get(rn_pipeline_dag_json(p), "nodes"), "t"),
                                  "catalog");
    assert_keys(cat, "get,put,store_copy");
    assert_true(json_is_false(json_object_get(cat, "store_copy")));
    assert_int_equal(json_array_size(json_object_get(cat, "put")), 0);
    rn_pipeline_free(p);
}

static void test_extensions_only_when_written(void **state)
{
    (void)state;
    rn_pipeline *p = load_ok("dag:\n"
                             "  stop_on_first_failure: true\n"
                             "  steps:\n"
                             "    a: {type: stub, depends_on: [], timeout: 5}\n"
                             "    b:\n"
                             "      type: task\n"
                             "      command: x\n"
                             "      depends_on: [a]\n"
                             "      retry: {delay: 1}\n"
                             "      skip_on_error: true\n");
    const json_t *g = rn_pipeline_dag_json(p);
    assert_keys(g, "start_at,name,description,nodes,stop_on_first_failure");
    assert_true(json_is_null(json_object_get(g, "start_at")));
    json_t *nodes = json_object_get(g, "nodes");
    json_t *a = json_object_get(nodes, "a"), *b = json_object_get(nodes, "b");
    assert_keys(a, "node_type,name,next_node,on_failure,overrides,catalog,max_attempts,"
                   "depends_on,timeout");
    /* A depends_on step has no next step. */
    assert_true(json_is_null(json_object_get(a, "next_node")));
    assert_keys(b, "node_type,name,next_node,on_failure,overrides,catalog,max_attempts,"
                   "command,depends_on,retry,skip_on_error");
    rn_pipeline_free(p);

    /* A plain stub keeps exactly runnable's fields, ignored keys dropped. */
    p = load_ok("dag:\n  start_at: a\n  steps:\n    a: {type: stub, what: x, next: success}\n");
    assert_keys(json_object_get(json_object_get(rn_pipeline_dag_json(p), "nodes"), "a"),
                "node_type,name,next_node,on_failure,overrides,catalog,max_attempts");
    assert_keys(rn_pipeline_dag_json(p), "start_at,name,description,nodes");
    rn_pipeline_free(p);
}

static void test_non_ascii_hash(void **state)
{
    (void)state;
    /* ensure_ascii: the hash is over \u escapes, not UTF-8 bytes. */
    json_t *dag = json_pack("{s:s}", "description", "caf\xc3\xa9");
    char hex[41];
    assert_int_equal(rn_dag_hash(dag, hex), 0);
    /* hashlib.sha1(json.dumps({"description": "café"}, sort_keys=True).encode()) */
    assert_string_equal(hex, "af829c15cfe9098f4b645204ae60c337887e5618");
    json_decref(dag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_of_spec_json),
        cmocka_unit_test(test_hash_of_pipeline),
        cmocka_unit_test(test_field_order),
        cmocka_unit_test(test_written_keys_change_hash),
        cmocka_unit_test(test_catalog_normalised),
        cmocka_unit_test(test_extensions_only_when_written),
        cmocka_unit_test(test_non_ascii_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
