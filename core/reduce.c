/*
 * Map reducers.  runnable's reducers are Python code; ours are named
 * (first, last, min, max, sum, concat) and need nothing, and Python ones
 * still work where a Python interpreter is installed.
 */
#include "config.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reduce.h"
#include "runnable/plugin.h"

extern char **environ;

static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "mapping";
    case JSON_ARRAY: return "list";
    case JSON_STRING: return "text";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* All numbers, or all strings; else explain the mix. */
static int same_kind(const char *reducer, const json_t *values, int allow_strings,
                     int allow_lists)
{
    size_t i;
    json_t *v;
    const char *first = NULL;
    json_array_foreach(values, i, v) {
        const char *k = kind(v);
        int ok = json_is_number(v) || (allow_strings && json_is_string(v)) ||
                 (allow_lists && json_is_array(v));
        if (!ok)
            return rn_error_set(RN_EINVAL, "reducer '%s' cannot combine a %s (item %zu)",
                                reducer, k, i);
        if (!first)
            first = k;
        else if (strcmp(first, k) != 0)
            return rn_error_set(RN_EINVAL, "reducer '%s' cannot combine a %s with a %s "
                                "(item %zu)", reducer, first, k, i);
    }
    return 0;
}

static int compare(const json_t *a, const json_t *b)
{
    if (json_is_string(a))
        return strcmp(json_string_value(a), json_string_value(b));
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static int extreme(const char *reducer, const json_t *values, int sign, json_t **out)
{
    int rc = same_kind(reducer, values, 1, 0);
    if (rc < 0)
        return rc;
    json_t *best = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
        /* Python's min/max keep the first of equal values. */
        if (!best || compare(v, best) * sign > 0)
            best = v;
    *out = best ? json_incref(best) : json_null();
    return 0;
}

static int sum(const json_t *values, json_t **out)
{
    int rc = same_kind("sum", values, 0, 0);
    if (rc < 0)
        return rc;
    int all_int = 1;
    json_int_t si = 0;
    double sd = 0;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (json_is_integer(v))
            si += json_integer_value(v);
        else
            all_int = 0;
        sd += json_number_value(v);
    }
    *out = all_int ? json_integer(si) : json_real(sd);
    return 0;
}

static int concat(const json_t *values, json_t **out)
{
    size_t n = json_array_size(values);
    if (n == 0) {
        *out = json_array();
        return 0;
    }
    const json_t *first = json_array_get(values, 0);
    size_t i;
    json_t *v;
    if (json_is_string(first)) {
        rn_buf b = {0};
        json_array_foreach(values, i, v) {
            if (!json_is_string(v)) {
                rn_buf_free(&b);
                return rn_error_set(RN_EINVAL, "reducer 'concat' cannot join text with a %s "
                                    "(item %zu)", kind(v), i);
            }
            rn_buf_append(&b, json_string_value(v), json_string_length(v));
        }
        *out = json_stringn(b.data ? b.data : "", b.len);
        rn_buf_free(&b);
        return 0;
    }
    json_t *all = json_array();
    json_array_foreach(values, i, v) {
        if (!json_is_array(v)) {
            json_decref(all);
            return rn_error_set(RN_EINVAL, "reducer 'concat' joins lists or texts, not a %s "
                                "(item %zu)", kind(v), i);
        }
        json_array_extend(all, v);
    }
    *out = all;
    return 0;
}

/* ---- Python reducers ---------------------------------------------- */

static const char py_script[] =
    "import importlib, json, sys\n"
    "src = sys.argv[1]\n"
    "values = json.load(sys.stdin)\n"
    "if src.lstrip().startswith('lambda'):\n"
    "    f = eval(src)\n"
    "else:\n"
    "    mod, _, name = src.rpartition('.')\n"
    "    f = getattr(importlib.import_module(mod), name)\n"
    "sys.stdout.write(json.dumps(f(*values)))\n";

static char *read_all(int fd)
{
    rn_buf b = {0};
    char chunk[4096];
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, chunk, sizeof chunk)) > 0)
        rn_buf_append(&b, chunk, (size_t)r);
    rn_buf_append(&b, "", 1);
    return b.data;
}

static const char *last_line(char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

static int python_reduce(const char *reducer, const json_t *values, json_t **out)
{
    const char *py = getenv("RUNNABLE_PYTHON");
    if (!py || !*py)
        py = "python3";
    char *input = rn_json_dumps_py(values, 0);
    int in = memfd_create("rn-reduce-in", MFD_CLOEXEC);
    int o = memfd_create("rn-reduce-out", MFD_CLOEXEC);
    int err = memfd_create("rn-reduce-err", MFD_CLOEXEC);
    int rc = 0;
    pid_t pid = -1;
    if (!input || in < 0 || o < 0 || err < 0) {
        rc = rn_error_set(RN_EIO, "reducer '%s': cannot set up its process: %s", reducer,
                          strerror(errno));
        goto out;
    }
    size_t len = strlen(input);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(in, input + off, len - off);
        if (w < 0) {
            rc = rn_error_set(RN_EIO, "reducer '%s': %s", reducer, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, o, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    /* The reducer text is an argument, never shell input. */
    char *argv[] = {(char *)py, "-c", (char *)py_script, (char *)reducer, NULL};
    int sr = posix_spawnp(&pid, py, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (sr != 0) {
        pid = -1;
        rc = rn_error_set(RN_EUNSUPPORTED, "reducer '%s' is Python code and needs a Python "
                          "interpreter; '%s' cannot be started (%s): set RUNNABLE_PYTHON or "
                          "use one of first, last, min, max, sum, concat", reducer, py,
                          strerror(sr));
        goto out;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *e = read_all(err);
        rc = rn_error_set(RN_EINVAL, "reducer '%s' failed: %s", reducer,
                          e && *e ? last_line(e) : "python exited with an error");
        free(e);
        goto out;
    }
    char *text = read_all(o);
    json_error_t je;
    *out = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
    free(text);
    if (!*out)
        rc = rn_error_set(RN_EINVAL, "reducer '%s' did not return a JSON value", reducer);
out:
    free(input);
    if (in >= 0)
        close(in);
    if (o >= 0)
        close(o);
    if (err >= 0)
        close(err);
    return rc;
}

int rn_reduce(const char *reducer, const json_t *values, json_t **out)
{
    *out = NULL;
    if (!json_is_array(values))
        return rn_error_set(RN_EINVAL, "reducers combine a list of values");
    size_t n = json_array_size(values);
    if (!reducer || !*reducer) {
        *out = json_copy((json_t *)values);
        return *out ? 0 : rn_error_set(RN_ENOMEM, "out of memory");
    }
    if (!strcmp(reducer, "first") || !strcmp(reducer, "last")) {
        json_t *v = n ? json_array_get(values, reducer[0] == 'f' ? 0 : n - 1) : NULL;
        *out = v ? json_incref(v) : json_null();
        return 0;
    }
    if (!strcmp(reducer, "min"))
        return extreme(reducer, values, -1, out);
    if (!strcmp(reducer, "max"))
        return extreme(reducer, values, 1, out);
    if (!strcmp(reducer, "sum"))
        return sum(values, out);
    if (!strcmp(reducer, "concat"))
        return concat(values, out);
    return python_reduce(reducer, values, out);
}
