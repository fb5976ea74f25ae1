/*
 * Secrets conformance: the same checks against every secrets provider,
 * loaded through the engine's loader.  What differs between providers is
 * stated in the capability table; the dotenv syntax checks run for every
 * provider that reads a dotenv file.
 *
 * Each test runs in a fresh temporary working directory holding a dotenv
 * file, with a known secret also exported in the environment.
 */
#define _XOPEN_SOURCE 700

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_open.h"

#define SECRET "RN_CONF_SECRET"
#define ABSENT "RN_CONF_ABSENT_SECRET"
#define ENV_VALUE "env-value-7f3a"
#define DOTENV_VALUE "dotenv-value-91c2"
#define OTHER_VALUE "other-value-55d0"

struct sec_row {
    const char *type;
    const char *config;      /* JSON settings, NULL for none */
    const char *dotenv;      /* the file it reads, NULL if none */
    const char *known;       /* value of SECRET */
    int missing_is_error;    /* unknown names give RN_ENOENT */
    int keeps_snapshot;      /* still answers after its source is gone */
};

static const struct sec_row rows[] = {
    {"env-secrets", NULL, NULL, ENV_VALUE, 1, 0},
    {"dotenv", NULL, ".env", DOTENV_VALUE, 1, 1},
    {"dotenv", "{\"location\": \"conf/secrets.env\"}", "conf/secrets.env", DOTENV_VALUE, 1, 1},
    {"do-nothing", NULL, NULL, "", 0, 1},
};

/* Every value any test puts anywhere: no message may contain one. */
static const char *const all_values[] = {ENV_VALUE, DOTENV_VALUE, OTHER_VALUE, "hunter2"};

struct fx {
    const struct sec_row *row;
    char dir[PATH_MAX];
    int old_cwd;
    rn_provider *p;
    const rn_secrets_ops *ops;
};

static void write_file(const char *path, const char *text)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        mkdir(parent, 0755);
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void assert_no_value_in(const char *message)
{
    for (size_t i = 0; i < sizeof all_values / sizeof all_values[0]; i++) {
        if (strstr(message, all_values[i]))
            fail_msg("message leaks a secret value: %s", message);
    }
}

static rn_provider *open_row(const struct sec_row *row, const char *config_text)
{
    json_t *config = NULL;
    if (config_text) {
        config = json_loads(config_text, 0, NULL);
        assert_non_null(config);
    }
    rn_provider *p = rn_test_provider(RN_KIND_SECRETS, row->type, config);
    json_decref(config);
    return p;
}

static int sec_get(rn_provider *p, const char *name, const char **out)
{
    const rn_secrets_ops *ops = p->ops;
    return ops->get(p->self, name, out);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->row = *state;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/rn-secrets-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->old_cwd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(f->old_cwd >= 0);
    assert_int_equal(chdir(f->dir), 0);

    setenv(SECRET, ENV_VALUE, 1);
    unsetenv(ABSENT);
    if (f->row->dotenv)
        write_file(f->row->dotenv, "OTHER=" OTHER_VALUE "\n" SECRET "=" DOTENV_VALUE "\n");
    f->p = open_row(f->row, f->row->config);
    f->ops = f->p->ops;
    assert_true(f->ops->version >= 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->p)
        rn_provider_close(f->p);
    unsetenv(SECRET);
    if (fchdir(f->old_cwd) != 0)
        return -1;
    close(f->old_cwd);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void known_secret_is_returned(void **state)
{
    struct fx *f = *state;
    const char *v = NULL;
    assert_int_equal(sec_get(f->p, SECRET, &v), 0);
    assert_non_null(v);
    assert_string_equal(v, f->row->known);

    /* Asking again gives the same value. */
    const char *again = NULL;
    assert_int_equal(sec_get(f->p, SECRET, &again), 0);
    assert_string_equal(again, f->row->known);
    assert_string_equal(v, f->row->known);
}

static void missing_secret_is_enoent_without_values(void **state)
{
    struct fx *f = *state;
    const char *v = NULL;
    /* Load whatever the provider reads first, so its message could leak. */
    assert_int_equal(sec_get(f->p, SECRET, &v), 0);

    v = "sentinel";
    int rc = sec_get(f->p, ABSENT, &v);
    if (f->row->missing_is_error) {
        assert_int_equal(rc, RN_ENOENT);
        assert_non_null(strstr(rn_error_last(), ABSENT));
        assert_no_value_in(rn_error_last());
        if (f->row->dotenv)
            assert_non_null(strstr(rn_error_last(), f->row->dotenv));
    } else {
        assert_int_equal(rc, 0);
        assert_string_equal(v, "");
    }
}

static void null_name_is_einval(void **state)
{
    struct fx *f = *state;
    const char *v = NULL;
    assert_int_equal(sec_get(f->p, NULL, &v), RN_EINVAL);
}

/* Values are the provider's, valid until destroy: they survive the
 * variable or file they came from (a task runner may unset variables). */
static void values_outlive_their_source(void **state)
{
    struct fx *f = *state;
    const char *v = NULL;
    assert_int_equal(sec_get(f->p, SECRET, &v), 0);
    setenv(SECRET, "changed-value-0000", 1);
    unsetenv(SECRET);
    if (f->row->dotenv)
        assert_int_equal(remove(f->row->dotenv), 0);
    assert_string_equal(v, f->row->known);

    const char *again = NULL;
    int rc = sec_get(f->p, SECRET, &again);
    if (f->row->keeps_snapshot) {
        assert_int_equal(rc, 0);
        assert_string_equal(again, f->row->known);
    } else {
        assert_int_equal(rc, RN_ENOENT);
        assert_no_value_in(rn_error_last());
    }
    assert_string_equal(v, f->row->known);
}

struct expect {
    const char *name;
    const char *value;
};

static void dotenv_syntax(void **state)
{
    struct fx *f = *state;
    if (!f->row->dotenv)
        skip();
    static const char text[] =
        "\xEF\xBB\xBF" "FIRST=after-bom\n"
        "# comment line\n"
        "   # indented comment\n"
        "\n"
        "PLAIN=plain-value\n"
        "export EXPORTED=exported-value\n"
        "export\tTABBED = tabbed\n"
        "  SPACED  =   spaced value   \n"
        "INLINE=value # trailing comment\n"
        "HASH_IN_VALUE=a#b\n"
        "SINGLE='single # not a comment ${PLAIN} \\n'\n"
        "SINGLE_ESC='it\\'s'\n"
        "DOUBLE=\"line1\\nline2 \\\"q\\\" ${PLAIN}\"\n"
        "DOUBLE_HASH=\"x # y\" # comment\n"
        "EMPTY=\n"
        "EMPTY_QUOTED=\"\"\n"
        "EXPANDED=${PLAIN}-and-${RN_CONF_FROM_ENV}\n"
        "DEFAULTED=${RN_CONF_UNSET_VAR:-fallback}\n"
        "UNSET=[${RN_CONF_UNSET_VAR}]\n"
        "NOT_A_VAR=$PLAIN and ${PLAIN\n"
        "MULTI=\"first\n"
        "second\"\n"
        "AFTER_MULTI=ok\n"
        "DUP=first\n"
        "DUP=second\n"
        "CRLF=crlf-value\r\n"
        "EQUALS=a=b=c\n"
        "export=is-a-key\n"
        "LAST=no-newline";
    static const struct expect want[] = {
        {"FIRST", "after-bom"},
        {"PLAIN", "plain-value"},
        {"EXPORTED", "exported-value"},
        {"TABBED", "tabbed"},
        {"SPACED", "spaced value"},
        {"INLINE", "value"},
        {"HASH_IN_VALUE", "a#b"},
        {"SINGLE", "single # not a comment ${PLAIN} \\n"},
        {"SINGLE_ESC", "it's"},
        {"DOUBLE", "line1\nline2 \"q\" plain-value"},
        {"DOUBLE_HASH", "x # y"},
        {"EMPTY", ""},
        {"EMPTY_QUOTED", ""},
        {"EXPANDED", "plain-value-and-from-env"},
        {"DEFAULTED", "fallback"},
        {"UNSET", "[]"},
        {"NOT_A_VAR", "$PLAIN and ${PLAIN"},
        {"MULTI", "first\nsecond"},
        {"AFTER_MULTI", "ok"},
        {"DUP", "second"},
        {"CRLF", "crlf-value"},
        {"EQUALS", "a=b=c"},
        {"export", "is-a-key"},
        {"LAST", "no-newline"},
    };
    write_file(f->row->dotenv, text);
    setenv("RN_CONF_FROM_ENV", "from-env", 1);
    unsetenv("RN_CONF_UNSET_VAR");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = NULL;
        int rc = sec_get(f->p, want[i].name, &v);
        if (rc != 0)
            fail_msg("%s: %s", want[i].name, rn_error_last());
        if (strcmp(v, want[i].value) != 0)
            fail_msg("%s: got [%s], want [%s]", want[i].name, v, want[i].value);
    }
    /* Comment text never becomes a key. */
    const char *v = NULL;
    assert_int_equal(sec_get(f->p, "#", &v), RN_ENOENT);
    unsetenv("RN_CONF_FROM_ENV");
}

static void dotenv_is_read_once(void **state)
{
    struct fx *f = *state;
    if (!f->row->dotenv)
        skip();
    const char *v = NULL;
    assert_int_equal(sec_get(f->p, SECRET, &v), 0);
    write_file(f->row->dotenv, SECRET "=rewritten\nNEW=1\n");
    assert_int_equal(sec_get(f->p, SECRET, &v), 0);
    assert_string_equal(v, DOTENV_VALUE);
    assert_int_equal(sec_get(f->p, "NEW", &v), RN_ENOENT);
}

static void dotenv_malformed_line_names_file_and_line(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *text;
        int line;
    } cases[] = {
        {"GOOD=1\n\nno equals here hunter2\n", 3},
        {"A=1\nB='unterminated hunter2\nC=3\n", 2},
        {"A=\"x\" trailing-hunter2\n", 1},
        {"=hunter2\n", 1},
        {"# c\nM=\"a\nb\"\nbad line hunter2\n", 4},
        {"KEY hunter2=x\n", 1},
        {"A=\"hunter2", 1},
    };
    if (!f->row->dotenv)
        skip();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(f->row->dotenv, cases[i].text);
        /* A fresh instance per file: the file is only read once. */
        rn_provider *p = open_row(f->row, f->row->config);
        const char *v = NULL;
        int rc = sec_get(p, "A", &v);
        char line[32];
        snprintf(line, sizeof line, "line %d", cases[i].line);
        if (rc != RN_EINVAL || !strstr(rn_error_last(), line) ||
            !strstr(rn_error_last(), f->row->dotenv))
            fail_msg("case %zu: rc %d, message '%s' (want RN_EINVAL naming %s and %s)", i, rc,
                     rn_error_last(), f->row->dotenv, line);
        assert_no_value_in(rn_error_last());
        rn_provider_close(p);
    }
}

static void dotenv_missing_file_fails_only_on_get(void **state)
{
    struct fx *f = *state;
    if (!f->row->dotenv)
        skip();
    rn_provider *p = open_row(f->row, "{\"location\": \"does-not-exist.env\"}");
    const char *v = NULL;
    assert_int_equal(sec_get(p, SECRET, &v), RN_ENOENT);
    assert_non_null(strstr(rn_error_last(), "does-not-exist.env"));
    assert_no_value_in(rn_error_last());
    /* Created later, it is found: a failed read is not remembered. */
    write_file("does-not-exist.env", SECRET "=" DOTENV_VALUE "\n");
    assert_int_equal(sec_get(p, SECRET, &v), 0);
    assert_string_equal(v, DOTENV_VALUE);
    rn_provider_close(p);
}

int main(void)
{
    int failed = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        void *row = (void *)&rows[r];
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate_setup_teardown(known_secret_is_returned, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(missing_secret_is_enoent_without_values, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(null_name_is_einval, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(values_outlive_their_source, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(dotenv_syntax, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(dotenv_is_read_once, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(dotenv_malformed_line_names_file_and_line, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(dotenv_missing_file_fails_only_on_get, setup, teardown, row),
        };
        char name[256];
        snprintf(name, sizeof name, "secrets %s %s", rows[r].type,
                 rows[r].config ? rows[r].config : "(defaults)");
        /* cmocka's standard output does not show group names. */
        printf("# %s\n", name);
        fflush(stdout);
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    return failed ? 1 : 0;
}
