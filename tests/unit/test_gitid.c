/* Unit tests of core/gitid.c: each case is a throwaway repository built
 * with the real `git` command, so the identity is checked against what
 * runnable (which shells out to git) would record. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gitid.h"
#include "runnable/plugin.h"

/* A private HOME so neither the user's ~/.gitconfig (signing, hooks,
 * url rewrites) nor /etc/gitconfig changes what git or libgit2 see. */
static char home_dir[4096];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

/* First line of a command's output, without its newline; "" if none. */
static void sh_read(char *out, size_t size, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)size, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

/* Every line of a command's output joined with ", ", as runnable joins
 * `git diff --name-only`. */
static void sh_read_joined(char *out, size_t size, const char *cmd)
{
    char line[1024];
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    while (fgets(line, sizeof line, p) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (out[0])
            strncat(out, ", ", size - strlen(out) - 1);
        strncat(out, line, size - strlen(out) - 1);
    }
    pclose(p);
}

static char *new_dir(void)
{
    char *dir = malloc(strlen(home_dir) + 32);
    assert_non_null(dir);
    sprintf(dir, "%s/case-XXXXXX", home_dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* A repository with one commit holding a.txt, b.txt and sub/c.txt. */
static char *new_repo_with_commit(void)
{
    char *dir = new_dir();
    sh("cd '%s' && git init -q . && git config user.email t@example.com && "
       "git config user.name Tester && printf 'a\\n' > a.txt && printf 'b\\n' > b.txt && "
       "mkdir sub && printf 'c\\n' > sub/c.txt && git add . && git commit -q -m init", dir);
    return dir;
}

static void free_dir(char *dir)
{
    sh("rm -rf '%s'", dir);
    free(dir);
}

static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(home_dir, sizeof home_dir, "%s/rn-gitid-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(home_dir) == NULL)
        return -1;
    /* Set before libgit2 is first used: it reads HOME once at init. */
    setenv("HOME", home_dir, 1);
    setenv("XDG_CONFIG_HOME", home_dir, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[4200];
    rn_gitid_cache_clear();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_identity(const json_t *id, const char *commit, const char *type,
                            int dependable, const char *url, const char *message)
{
    const char *keys[] = {"code_identifier", "code_identifier_type",
                          "code_identifier_dependable", "code_identifier_url",
                          "code_identifier_message"};
    const char *key;
    json_t *value;
    size_t i = 0;

    assert_non_null(id);
    assert_true(json_is_object(id));
    assert_int_equal(json_object_size(id), 5);
    /* The run log is compared textually with runnable's: order matters. */
    json_object_foreach((json_t *)id, key, value) {
        (void)value;
        assert_string_equal(key, keys[i]);
        i++;
    }
    assert_string_equal(json_string_value(json_object_get(id, keys[0])), commit);
    assert_string_equal(json_string_value(json_object_get(id, keys[1])), type);
    assert_true(json_is_boolean(json_object_get(id, keys[2])));
    assert_int_equal(json_is_true(json_object_get(id, keys[2])), dependable);
    assert_string_equal(json_string_value(json_object_get(id, keys[3])), url);
    assert_string_equal(json_string_value(json_object_get(id, keys[4])), message);
}

static void head_of(const char *dir, char out[64])
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD", dir);
    sh_read(out, 64, cmd);
    assert_int_equal(strlen(out), 40);
}

/* ------------------------------------------------------------------ */

static void test_not_a_repository(void **state)
{
    char *dir = new_dir();
    char cmd[4200];
    json_t *id = (json_t *)1;

    /* If TMPDIR itself lies inside a work tree the case cannot be built. */
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --is-inside-work-tree >/dev/null 2>&1", dir);
    if (system(cmd) == 0) {
        free_dir(dir);
        skip();
    }
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_null(id);
    free_dir(dir);
}

static void test_missing_directory_is_absent(void **state)
{
    json_t *id = (json_t *)1;
    char path[4200];

    snprintf(path, sizeof path, "%s/does/not/exist", home_dir);
    assert_int_equal(rn_code_identity_git_fresh(path, &id), 0);
    assert_null(id);
}

static void test_no_commits_gives_defaults(void **state)
{
    char *dir = new_dir();
    json_t *id = NULL;

    sh("cd '%s' && git init -q . && printf 'x\\n' > x.txt && git add x.txt", dir);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, "", "", 0, "", "");
    json_decref(id);
    free_dir(dir);
}

static void test_clean(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 1, "", "");
    json_decref(id);
    free_dir(dir);
}

static void test_touched_but_unchanged_is_clean(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    /* Same content, new mtime: git re-hashes and finds no change. */
    sh("cd '%s' && sleep 1 && printf 'a\\n' > a.txt && touch b.txt", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 1, "", "");
    json_decref(id);
    free_dir(dir);
}

static void test_dirty_lists_changed_paths(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64], expect[2048], cmd[4200];
    json_t *id = NULL;

    sh("cd '%s' && git remote add origin https://example.com/team/repo.git && "
       "printf 'changed\\n' >> b.txt && printf 'changed\\n' >> sub/c.txt && rm a.txt && "
       "printf 'new\\n' > untracked.txt", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    /* Paths relative to the top, sorted; deletions count, untracked not. */
    assert_identity(id, head, "git", 0, "https://example.com/team/repo.git",
                    "changes found in a.txt, b.txt, sub/c.txt");
    json_decref(id);

    /* Same answer, searching upwards from a subdirectory, and the same
     * text as runnable builds from git's own output. */
    snprintf(cmd, sizeof cmd, "git -C '%s' diff --name-only", dir);
    strcpy(expect, "changes found in ");
    sh_read_joined(expect + strlen(expect), sizeof expect - strlen(expect), cmd);
    snprintf(cmd, sizeof cmd, "%s/sub", dir);
    assert_int_equal(rn_code_identity_git_fresh(cmd, &id), 0);
    assert_identity(id, head, "git", 0, "https://example.com/team/repo.git", expect);
    json_decref(id);
    free_dir(dir);
}

static void test_dirty_quotes_paths_like_git(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64], expect[2048], cmd[4200];
    json_t *id = NULL;

    sh("cd '%s' && git remote add origin git@example.com:r.git && "
       "printf 'x\\n' > \"$(printf 'caf\\303\\251.txt')\" && printf 'y\\n' > 'q\"uote.txt' && "
       "git add . && git commit -q -m more && "
       "printf 'z\\n' >> \"$(printf 'caf\\303\\251.txt')\" && printf 'z\\n' >> 'q\"uote.txt'", dir);
    head_of(dir, head);
    snprintf(cmd, sizeof cmd, "git -C '%s' diff --name-only", dir);
    strcpy(expect, "changes found in ");
    sh_read_joined(expect + strlen(expect), sizeof expect - strlen(expect), cmd);
    assert_string_equal(expect, "changes found in \"caf\\303\\251.txt\", \"q\\\"uote.txt\"");
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 0, "git@example.com:r.git", expect);
    json_decref(id);
    free_dir(dir);
}

static void test_dirty_without_origin(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    /* runnable's quirk (spec §3.4): the missing remote stops it before
     * the message is written. */
    sh("cd '%s' && git remote add upstream https://example.com/u.git && "
       "printf 'changed\\n' >> a.txt", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 0, "", "");
    json_decref(id);
    free_dir(dir);
}

static void test_staged_only_is_clean(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    sh("cd '%s' && git remote add origin https://example.com/r.git && "
       "printf 'changed\\n' >> a.txt && git add a.txt", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 1, "https://example.com/r.git", "");
    json_decref(id);
    free_dir(dir);
}

static void test_untracked_is_clean(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    sh("cd '%s' && git remote add origin https://example.com/r.git && "
       "printf 'new\\n' > new.txt && mkdir more && printf 'n\\n' > more/n.txt", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 1, "https://example.com/r.git", "");
    json_decref(id);
    free_dir(dir);
}

static void test_origin_url(void **state)
{
    char *dir = new_repo_with_commit();
    char head[64];
    json_t *id = NULL;

    sh("cd '%s' && git remote add origin ssh://git@example.com/team/proj.git", dir);
    head_of(dir, head);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_identity(id, head, "git", 1, "ssh://git@example.com/team/proj.git", "");
    json_decref(id);
    free_dir(dir);
}

static void test_bare_repository_is_absent(void **state)
{
    char *dir = new_dir();
    json_t *id = (json_t *)1;

    sh("git init -q --bare '%s'", dir);
    assert_int_equal(rn_code_identity_git_fresh(dir, &id), 0);
    assert_null(id);
    free_dir(dir);
}

static void test_cache_returns_first_answer(void **state)
{
    char *dir = new_repo_with_commit();
    char *plain = new_dir();
    char head[64], cmd[4200];
    json_t *first = NULL, *second = NULL, *fresh = NULL, *absent = (json_t *)1;

    head_of(dir, head);
    rn_gitid_cache_clear();
    assert_int_equal(rn_code_identity_git(dir, &first), 0);
    assert_identity(first, head, "git", 1, "", "");

    /* The tree is assumed unchanged during a run: a later edit is not
     * seen through the cache, only by a fresh computation. */
    sh("cd '%s' && printf 'changed\\n' >> a.txt", dir);
    assert_int_equal(rn_code_identity_git(dir, &second), 0);
    assert_ptr_equal(first, second);
    assert_identity(second, head, "git", 1, "", "");
    assert_int_equal(rn_code_identity_git_fresh(dir, &fresh), 0);
    assert_ptr_not_equal(first, fresh);
    assert_identity(fresh, head, "git", 0, "", "");
    json_decref(fresh);

    /* Our references outlive the cache entry. */
    rn_gitid_cache_clear();
    assert_identity(first, head, "git", 1, "", "");
    json_decref(first);
    json_decref(second);
    assert_int_equal(rn_code_identity_git(dir, &first), 0);
    assert_identity(first, head, "git", 0, "", "");
    json_decref(first);

    /* "Not a repository" is remembered as well (unless TMPDIR lies in a
     * work tree, when there is no such case to build). */
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse >/dev/null 2>&1", plain);
    if (system(cmd) != 0) {
        assert_int_equal(rn_code_identity_git(plain, &absent), 0);
        assert_null(absent);
        absent = (json_t *)1;
        assert_int_equal(rn_code_identity_git(plain, &absent), 0);
        assert_null(absent);
    }
    rn_gitid_cache_clear();
    free_dir(plain);
    free_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_repository),
        cmocka_unit_test(test_missing_directory_is_absent),
        cmocka_unit_test(test_no_commits_gives_defaults),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_touched_but_unchanged_is_clean),
        cmocka_unit_test(test_dirty_lists_changed_paths),
        cmocka_unit_test(test_dirty_quotes_paths_like_git),
        cmocka_unit_test(test_dirty_without_origin),
        cmocka_unit_test(test_staged_only_is_clean),
        cmocka_unit_test(test_untracked_is_clean),
        cmocka_unit_test(test_origin_url),
        cmocka_unit_test(test_bare_repository_is_absent),
        cmocka_unit_test(test_cache_returns_first_answer),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
