/*
 * Map reducers.  runnable's reducers are Python code; ours are named
 * (first, last, min, max, sum, concat) and need nothing, and Python ones
 * still work where a Python interpreter is installed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reduce.h"
#include "spawn.h"
#include "runnable/plugin.h"

#define NAMED "first, last, min, max, sum, concat"

extern char **environ;

static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "text";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* ---- first, last, min, max ---------------------------------------- */

/* Sign of i - d, exactly: converting i to double would round beyond 2^53
 * where Python's int/float comparison does not. */
static int cmp_int_real(json_int_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    json_int_t t = (json_int_t)d; /* truncated; in range by the tests above */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t; /* exact: t is d without its fraction */
    return frac > 0 ? -1 : frac < 0;
}

/* Python's ordering of two numbers or of two str (code point order, which
 * is byte order in UTF-8). */
static int compare(const json_t *a, const json_t *b)
{
    if (json_is_string(a)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        return c ? c : la < lb ? -1 : la > lb;
    }
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

static int extreme(const char *reducer, const json_t *values, int sign, json_t **out)
{
    const json_t *best = NULL;
    size_t best_i = 0, i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (!json_is_number(v) && !json_is_string(v))
            return rn_error_set(RN_EINVAL, "reducer '%s' compares numbers or texts, not %s "
                                "(item %zu)", reducer, kind(v), i);
        if (best && json_is_string(best) != json_is_string(v))
            return rn_error_set(RN_EINVAL, "reducer '%s' cannot compare %s (item %zu) with %s "
                                "(item %zu)", reducer, kind(best), best_i, kind(v), i);
        /* Python's min and max keep the first of equal values. */
        if (!best || compare(v, best) * sign > 0) {
            best = v;
            best_i = i;
        }
    }
    *out = best ? json_incref((json_t *)best) : json_null();
    return 0;
}

/* ---- sum, concat -------------------------------------------------- */

/* As Python's sum() (up to 3.11): integers added exactly until the first
 * float, from there on float additions left to right. */
static int sum(const json_t *values, json_t **out)
{
    json_int_t si = 0;
    double sd = 0;
    int real = 0;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (!json_is_number(v))
            return rn_error_set(RN_EINVAL, "reducer 'sum' adds numbers, not %s (item %zu)",
                                kind(v), i);
        if (!real && json_is_integer(v)) {
            /* Python would go on with an arbitrarily large int, which no
             * JSON value here can hold. */
            if (__builtin_add_overflow(si, json_integer_value(v), &si))
                return rn_error_set(RN_EINVAL, "reducer 'sum': the total of the integers "
                                    "exceeds 64 bits (item %zu)", i);
            continue;
        }
        if (!real) {
            real = 1;
            sd = (double)si;
        }
        sd += json_number_value(v);
    }
    *out = real ? json_real(sd) : json_integer(si);
    return *out ? 0 : rn_error_set(RN_EINVAL, "reducer 'sum': the total is not finite");
}

static int concat(const json_t *values, json_t **out)
{
    const json_t *first = json_array_get(values, 0);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (!json_is_array(v) && !json_is_string(v))
            return rn_error_set(RN_EINVAL, "reducer 'concat' joins lists or texts, not %s "
                                "(item %zu)", kind(v), i);
        if (json_is_string(v) != json_is_string(first))
            return rn_error_set(RN_EINVAL, "reducer 'concat' cannot join %s (item 0) with %s "
                                "(item %zu)", kind(first), kind(v), i);
    }
    if (json_is_string(first)) {
        rn_buf b = {0};
        int rc = rn_buf_append(&b, "", 0);
        json_array_foreach(values, i, v)
            if (!rc)
                rc = rn_buf_append(&b, json_string_value(v), json_string_length(v));
        *out = rc ? NULL : json_stringn(b.data, b.len);
        rn_buf_free(&b);
        return *out ? 0 : rn_error_set(RN_ENOMEM, "out of memory");
    }
    json_t *all = json_array();
    int rc = all ? 0 : -1;
    json_array_foreach(values, i, v)
        if (!rc)
            rc = json_array_extend(all, v);
    if (rc) {
        json_decref(all);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    *out = all;
    return 0;
}

/* ---- Python reducers ---------------------------------------------- */

/*
 * As runnable's MapNode.get_reducer_function: eval() the text, and if that
 * is not a function, import it as a dotted path (runnable stops at a
 * NameError there; a dotted path always raises one, so we go on).  What
 * the reducer or its module prints goes to stderr: stdout carries only
 * the result.
 */
static const char py_script[] =
    "import importlib, json, os, sys\n"
    "out, sys.stdout = sys.stdout, sys.stderr\n"
    "src = sys.argv[1]\n"
    "f = None\n"
    "try:\n"
    "    f = eval(src, {})\n"
    "except (SyntaxError, NameError, AttributeError):\n"
    "    pass\n"
    "if not callable(f):\n"
    "    mod, _, name = src.rpartition('.')\n"
    "    if not mod:\n"
    "        sys.exit('neither a lambda nor a dotted path module.function')\n"
    "    sys.path.insert(0, os.getcwd())\n"
    "    f = getattr(importlib.import_module(mod), name)\n"
    "values = json.loads(sys.stdin.buffer.read())\n"
    "out.write(json.dumps(f(*values)))\n";

/* An anonymous file at descriptor 3 or above: the child's dup2 onto 0, 1
 * and 2 must not overwrite one of its own sources. */
static int scratch_fd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd >= 0 && fd < 3) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        fd = high;
    }
    return fd;
}

static char *read_all(int fd)
{
    rn_buf b = {0};
    char chunk[4096];
    ssize_t r;
    int rc = lseek(fd, 0, SEEK_SET) < 0 ? RN_EIO : rn_buf_append(&b, "", 0);
    while (!rc && ((r = read(fd, chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            rc = rn_buf_append(&b, chunk, (size_t)r);
    if (rc) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Python's error is the last line of a traceback. */
static const char *last_line(char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

static int start_python(const char *reducer, const char *prog, int in, int out, int err,
                        pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int e = posix_spawn_file_actions_init(&fa);
    if (e)
        return rn_error_set(RN_ENOMEM, "reducer '%s': %s", reducer, strerror(e));
    if ((e = posix_spawnattr_init(&attr))) {
        posix_spawn_file_actions_destroy(&fa);
        return rn_error_set(RN_ENOMEM, "reducer '%s': %s", reducer, strerror(e));
    }
    e = posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (!e)
        e = posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (!e)
        e = posix_spawn_file_actions_adddup2(&fa, err, 2);
#ifdef RN_HAVE_ADDCLOSEFROM
    /* The engine's own descriptors (run log, task pipes) are not Python's. */
    if (!e)
        e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    /* Python stays in the engine's process group, so an interrupt from the
     * terminal stops it with the engine. */
    if (!e)
        e = rn_spawnattr_ordinary(&attr, 0);
    int rc = 0;
    if (e) {
        rc = rn_error_set(RN_EIO, "reducer '%s': cannot prepare its process: %s", reducer,
                          strerror(e));
    } else {
        /* The reducer text is an argument, never shell input. */
        char *argv[] = {(char *)prog, "-c", (char *)py_script, (char *)reducer, NULL};
        if ((e = posix_spawn(pid, prog, &fa, &attr, argv, environ)))
            rc = rn_error_set(RN_EIO, "reducer '%s': cannot start '%s': %s", reducer, prog,
                              strerror(e));
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* The outcome of a finished Python: *out on success, else a message. */
static int collect(const char *reducer, const char *prog, int st, int out_fd, int err_fd,
                   json_t **out)
{
    char *errtext = read_all(err_fd);
    const char *why = errtext ? last_line(errtext) : "";
    int rc = 0;
    if (WIFSIGNALED(st)) {
        rc = rn_error_set(RN_EINVAL, "reducer '%s' failed: Python was killed by signal %d%s%s",
                          reducer, WTERMSIG(st), *why ? ": " : "", why);
    } else if (WEXITSTATUS(st) == 127 && !*why) {
        rc = rn_error_set(RN_EUNSUPPORTED, "reducer '%s' is Python code and needs a Python "
                          "interpreter; '%s' could not be run (set RUNNABLE_PYTHON or use one "
                          "of: " NAMED ")", reducer, prog);
    } else if (WEXITSTATUS(st) != 0) {
        rc = rn_error_set(RN_EINVAL, "reducer '%s' failed: %s", reducer,
                          *why ? why : "Python exited with an error and said nothing");
    } else {
        char *text = read_all(out_fd);
        *out = text ? rn_json_loads_py(text, strlen(text)) : NULL;
        if (!text)
            rc = rn_error_set(RN_ENOMEM, "out of memory");
        else if (!*out)
            /* json.dumps wrote it, so it is NaN, Infinity or an integer
             * beyond 64 bits. */
            rc = rn_error_set(RN_EINVAL, "reducer '%s' returned %.60s%s, which is not a JSON "
                              "value this engine can hold%s%s", reducer, text,
                              strlen(text) > 60 ? "..." : "", *why ? "; Python said: " : "",
                              why);
        free(text);
    }
    free(errtext);
    return rc;
}

static int python_reduce(const char *reducer, const json_t *values, json_t **out)
{
    const char *env = getenv("RUNNABLE_PYTHON");
    const char *py = env && *env ? env : "python3";
    /* Looked up before anything starts (rather than by posix_spawnp) so
     * that "no interpreter" gets its own message: under valgrind a failed
     * exec is only an exit status 127. */
    char prog[PATH_MAX];
    if (rn_find_program(py, getenv("PATH"), NULL, prog) < 0) {
        if (py == env)
            return rn_error_set(RN_EUNSUPPORTED, "reducer '%s' is Python code and needs a "
                                "Python interpreter; RUNNABLE_PYTHON '%s' is not an executable "
                                "program (fix it or use one of: " NAMED ")", reducer, env);
        return rn_error_set(RN_EUNSUPPORTED, "reducer '%s' is Python code and needs a Python "
                            "interpreter; none found (set RUNNABLE_PYTHON or use one of: "
                            NAMED ")", reducer);
    }

    /* Files rather than pipes: nothing to pump, no deadlock on a large
     * list or a chatty reducer. */
    int in = scratch_fd("rn-reduce-in"), o = scratch_fd("rn-reduce-out"),
        err = scratch_fd("rn-reduce-err");
    char *input = rn_json_dumps_py(values, 0);
    int rc = 0;
    if (in < 0 || o < 0 || err < 0) {
        rc = rn_error_set(RN_EIO, "reducer '%s': cannot create its files: %s", reducer,
                          strerror(errno));
        goto done;
    }
    if (!input) {
        rc = rn_error_set(RN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t off = 0, len = strlen(input); off < len;) {
        ssize_t w = write(in, input + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = rn_error_set(RN_EIO, "reducer '%s': writing its input: %s", reducer,
                              strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (lseek(in, 0, SEEK_SET) < 0) {
        rc = rn_error_set(RN_EIO, "reducer '%s': %s", reducer, strerror(errno));
        goto done;
    }

    pid_t pid;
    if ((rc = start_python(reducer, prog, in, o, err, &pid)) < 0)
        goto done;
    int st;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0)
        rc = rn_error_set(RN_EIO, "reducer '%s': waiting for Python: %s", reducer,
                          strerror(errno));
    else
        rc = collect(reducer, prog, st, o, err, out);
done:
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
        return rn_error_set(RN_EINVAL, "reducers combine a list of values, not %s",
                            values ? kind(values) : "nothing");
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
