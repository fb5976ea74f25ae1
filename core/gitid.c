/* Git code identity (run-log spec §3.4) through libgit2, loaded on first use.
 *
 * runnable runs four `git` commands per attempt; spawning them would cost
 * several times the engine's whole per-step budget, so this reads the
 * repository in-process and, by default, only once per run. */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "gitid.h"
#include "runnable/plugin.h"

/* ------------------------------------------------------------------ */
/* libgit2 initialisation                                              */
/* ------------------------------------------------------------------ */

/* libgit2 must be initialised before any other call and its init is
 * reference counted; doing it exactly once and never shutting down keeps
 * concurrent first calls safe and avoids tearing libgit2 down under a
 * thread that is still using it. */
static pthread_once_t gitid_once = PTHREAD_ONCE_INIT;
static int gitid_init_rc;
static char gitid_init_error[256];

/*
 * libgit2 is loaded when a folder may be in a repository, not linked: its
 * dependencies (TLS, Kerberos, SSH, PCRE: fifteen shared libraries) cost
 * every runnable process 7 to 25 ms at start on a virtual machine, more
 * than the rest of a one-node process, and most processes (outside a
 * repository, or `runs`, `validate`, a cached identity) never call it.
 * The library is the one the build compiled against (its soname); where
 * it is missing the identity is absent, as when git fails (spec 3.4).
 */
#define GIT_FN(name) __typeof__(&git_##name) name;
static struct {
    GIT_FN(libgit2_init)
    GIT_FN(error_last)
    GIT_FN(diff_index_to_workdir)
    GIT_FN(config_get_bool)
    GIT_FN(diff_num_deltas)
    GIT_FN(diff_get_delta)
    GIT_FN(diff_free)
    GIT_FN(repository_open_ext)
    GIT_FN(repository_is_bare)
    GIT_FN(repository_free)
    GIT_FN(reference_name_to_id)
    GIT_FN(oid_tostr)
    GIT_FN(repository_config_snapshot)
    GIT_FN(config_get_string)
    GIT_FN(config_free)
} G;
#undef GIT_FN

static void gitid_init(void)
{
    static const char *const files[] = {"libgit2.so." LIBGIT2_SOVERSION, "libgit2.so"};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof files / sizeof *files && !lib; i++)
        lib = dlopen(files[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(gitid_init_error, sizeof gitid_init_error, "%s", dlerror());
        gitid_init_rc = -1;
        return;
    }
#define GIT_LOAD(name)                                                                   \
    if (!(*(void **)&G.name = dlsym(lib, "git_" #name))) {                               \
        snprintf(gitid_init_error, sizeof gitid_init_error, "libgit2 has no git_%s", #name); \
        gitid_init_rc = -1;                                                              \
        return;                                                                          \
    }
    GIT_LOAD(libgit2_init)
    GIT_LOAD(error_last)
    GIT_LOAD(diff_index_to_workdir)
    GIT_LOAD(config_get_bool)
    GIT_LOAD(diff_num_deltas)
    GIT_LOAD(diff_get_delta)
    GIT_LOAD(diff_free)
    GIT_LOAD(repository_open_ext)
    GIT_LOAD(repository_is_bare)
    GIT_LOAD(repository_free)
    GIT_LOAD(reference_name_to_id)
    GIT_LOAD(oid_tostr)
    GIT_LOAD(repository_config_snapshot)
    GIT_LOAD(config_get_string)
    GIT_LOAD(config_free)
#undef GIT_LOAD
    gitid_init_rc = G.libgit2_init();
    if (gitid_init_rc < 0)
        snprintf(gitid_init_error, sizeof gitid_init_error, "git_libgit2_init failed");
}

/* ------------------------------------------------------------------ */
/* Computing one identity                                              */
/* ------------------------------------------------------------------ */

static int gitid_nomem(void)
{
    return rn_error_set(RN_ENOMEM, "code identity: out of memory");
}

/* True when a libgit2 failure was an allocation failure, the one kind we
 * report instead of treating as "could not be computed". */
static bool git_failed_nomem(void)
{
    const git_error *e = G.error_last();
    return e != NULL && e->klass == GIT_ERROR_NOMEMORY;
}

/* Append `path` as `git diff --name-only` prints it: with core.quotePath
 * (the default) a path holding control characters, '"', '\\' or any
 * non-ASCII byte is written C-style in double quotes, bytes >= 0x80 in
 * octal.  runnable copies git's output verbatim, so the message matches. */
static int append_git_path(rn_buf *b, const char *path, bool quote_high)
{
    const unsigned char *p;
    bool needs = false;

    for (p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\' || (quote_high && *p >= 0x80)) {
            needs = true;
            break;
        }
    if (!needs)
        return rn_buf_append(b, path, strlen(path));

    if (rn_buf_append(b, "\"", 1) != 0)
        return RN_ENOMEM;
    for (p = (const unsigned char *)path; *p; p++) {
        static const char letters[] = "abtnvfr"; /* \a (7) .. \r (13) */
        int rc;
        if (*p >= 7 && *p <= 13)
            rc = rn_buf_printf(b, "\\%c", letters[*p - 7]);
        else if (*p == '"' || *p == '\\')
            rc = rn_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f || (quote_high && *p >= 0x80))
            rc = rn_buf_printf(b, "\\%03o", *p);
        else
            rc = rn_buf_append(b, (const char *)p, 1);
        if (rc != 0)
            return RN_ENOMEM;
    }
    return rn_buf_append(b, "\"", 1);
}

/* Unstaged changes of tracked files, i.e. index vs working tree.  Fills
 * `changed` with the paths joined by ", " (empty when clean).  Returns 0,
 * 1 when the diff could not be computed, or RN_ENOMEM. */
static int unstaged_changes(git_repository *repo, git_config *cfg, rn_buf *changed)
{
    git_diff *diff = NULL;
    int quote_high = 1;
    size_t i, n;
    int rc = 0;

    /* Default options (NULL), so no INCLUDE_UNTRACKED: `git diff` ignores
     * untracked files.  Comparing against the index (not HEAD) is what
     * makes staged-only edits clean.  libgit2 re-hashes files whose stat
     * data changed, so a file touched but not modified is clean, as with
     * git. */
    if (G.diff_index_to_workdir(&diff, repo, NULL, NULL) != 0)
        return git_failed_nomem() ? gitid_nomem() : 1;

    if (cfg != NULL && G.config_get_bool(&quote_high, cfg, "core.quotepath") != 0)
        quote_high = 1;

    /* Deltas come sorted by path, the order git prints them in. */
    n = G.diff_num_deltas(diff);
    for (i = 0; i < n && rc == 0; i++) {
        const git_diff_delta *d = G.diff_get_delta(diff, i);
        const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
        if (i > 0 && rn_buf_append(changed, ", ", 2) != 0)
            rc = gitid_nomem();
        else if (append_git_path(changed, path, quote_high != 0) != 0)
            rc = gitid_nomem();
    }
    G.diff_free(diff);
    return rc;
}

static json_t *identity_object(const char *id, const char *type, bool dependable,
                               const char *url, const char *message)
{
    /* json_pack keeps the keys in the order written, which is the spec's. */
    return json_pack("{s:s, s:s, s:b, s:s, s:s}",
                     "code_identifier", id,
                     "code_identifier_type", type,
                     "code_identifier_dependable", dependable,
                     "code_identifier_url", url,
                     "code_identifier_message", message);
}

/* 1 when work_dir or a folder above it holds a `.git` (a work tree, or a
 * gitlink file) or a `HEAD` (a git folder itself): only then can
 * git_repository_open_ext find a repository.  Checked before touching
 * libgit2 because its initialisation parses the system's CA certificates
 * (about 6 ms, most of a one-node process such as execute-single-node),
 * work a folder outside any repository never needs.  Errs towards 1. */
static bool may_be_in_repository(const char *work_dir)
{
    char *dir = realpath(work_dir, NULL);
    bool found = dir == NULL; /* cannot tell: let libgit2 decide */

    for (size_t len = dir ? strlen(dir) : 0; dir && !found;) {
        static const char *const marks[] = {"/.git", "/HEAD"};
        for (size_t i = 0; i < 2 && !found; i++) {
            size_t n = len + strlen(marks[i]) + 1;
            char *path = malloc(n);
            struct stat st;
            if (path == NULL) {
                found = true;
                break;
            }
            snprintf(path, n, "%.*s%s", (int)len, dir, marks[i]);
            found = lstat(path, &st) == 0;
            free(path);
        }
        if (len <= 1)
            break;
        while (len > 1 && dir[len - 1] != '/')
            len--;
        if (len > 1)
            len--; /* drop the '/' too, but keep "/" itself */
    }
    free(dir);
    return found;
}

int rn_code_identity_git_fresh(const char *work_dir, json_t **out)
{
    git_repository *repo = NULL;
    git_config *cfg = NULL;
    git_oid head;
    char commit[GIT_OID_HEXSZ + 1] = "";
    const char *type = "";
    bool dependable = false;
    const char *url = "";
    rn_buf changed = {0};
    rn_buf message = {0};
    int rc = 0;

    *out = NULL;
    if (work_dir == NULL)
        work_dir = ".";

    if (!may_be_in_repository(work_dir))
        return 0;
    pthread_once(&gitid_once, gitid_init);
    if (gitid_init_rc < 0)
        return rn_error_set(RN_EIO, "code identity: cannot load libgit2: %s", gitid_init_error);

    /* Flags 0: search upwards from work_dir, as git does.  Any failure to
     * open (no repository, "dubious ownership", unreadable) is what makes
     * `git rev-parse --is-inside-work-tree` fail for runnable: absent.  A
     * bare repository has no working tree, so it is absent too. */
    if (G.repository_open_ext(&repo, work_dir, 0, NULL) != 0)
        return git_failed_nomem() ? gitid_nomem() : 0;
    if (G.repository_is_bare(repo)) {
        G.repository_free(repo);
        return 0;
    }

    /* Each step below runs only if the one before it worked, so a failure
     * leaves the later fields at their defaults, as in runnable. */
    if (G.reference_name_to_id(&head, repo, "HEAD") != 0) {
        /* Unborn HEAD (no commits): everything stays default. */
        if (git_failed_nomem())
            rc = gitid_nomem();
        goto build;
    }
    G.oid_tostr(commit, sizeof commit, &head);
    type = "git";

    /* A snapshot gives stable strings for the whole computation and reads
     * every level (system, global, local) like `git config --get`. */
    if (G.repository_config_snapshot(&cfg, repo) != 0)
        cfg = NULL;

    rc = unstaged_changes(repo, cfg, &changed);
    if (rc != 0) {
        if (rc > 0)
            rc = 0;
        goto build;
    }
    dependable = changed.len == 0;

    if (cfg == NULL || G.config_get_string(&url, cfg, "remote.origin.url") != 0) {
        /* No origin: runnable's `git config --get` fails here, before the
         * message is written, so a dirty tree still has message "". */
        url = "";
        goto build;
    }

    if (!dependable &&
        (rn_buf_append(&message, "changes found in ", 17) != 0 ||
         rn_buf_append(&message, changed.data, changed.len) != 0))
        rc = gitid_nomem();

build:
    if (rc == 0) {
        *out = identity_object(commit, type, dependable, url,
                               message.len ? message.data : "");
        if (*out == NULL)
            rc = gitid_nomem();
    }
    rn_buf_free(&message);
    rn_buf_free(&changed);
    G.config_free(cfg); /* url points into it: freed after json_pack */
    G.repository_free(repo);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Per-process cache                                                   */
/* ------------------------------------------------------------------ */

/* Keyed by the work_dir string as given: the engine passes one directory
 * for a whole run, so a list is enough and spelling variants of the same
 * directory only cost one extra computation. */
typedef struct gitid_entry {
    struct gitid_entry *next;
    json_t *identity;    /* NULL: not a repository (cached too) */
    char work_dir[];
} gitid_entry;

static pthread_mutex_t gitid_lock = PTHREAD_MUTEX_INITIALIZER;
static gitid_entry *gitid_cache;

int rn_code_identity_git(const char *work_dir, json_t **out)
{
    gitid_entry *e;
    json_t *identity = NULL;
    size_t len;
    int rc;

    *out = NULL;
    if (work_dir == NULL)
        work_dir = ".";

    /* The lock is held while computing so that parallel first attempts
     * wait for one computation instead of each running their own. */
    pthread_mutex_lock(&gitid_lock);
    for (e = gitid_cache; e != NULL; e = e->next)
        if (strcmp(e->work_dir, work_dir) == 0) {
            *out = json_incref(e->identity);
            pthread_mutex_unlock(&gitid_lock);
            return 0;
        }

    rc = rn_code_identity_git_fresh(work_dir, &identity);
    if (rc != 0) {
        /* Errors are not cached: they are out-of-memory, worth retrying. */
        pthread_mutex_unlock(&gitid_lock);
        return rc;
    }
    len = strlen(work_dir);
    e = malloc(sizeof *e + len + 1);
    if (e == NULL) {
        /* Still a correct answer, just not remembered. */
        pthread_mutex_unlock(&gitid_lock);
        *out = identity;
        return 0;
    }
    memcpy(e->work_dir, work_dir, len + 1);
    e->identity = identity;
    e->next = gitid_cache;
    gitid_cache = e;
    *out = json_incref(identity);
    pthread_mutex_unlock(&gitid_lock);
    return 0;
}

void rn_gitid_cache_clear(void)
{
    gitid_entry *e;

    pthread_mutex_lock(&gitid_lock);
    e = gitid_cache;
    gitid_cache = NULL;
    pthread_mutex_unlock(&gitid_lock);
    while (e != NULL) {
        gitid_entry *next = e->next;
        json_decref(e->identity);
        free(e);
        e = next;
    }
}
