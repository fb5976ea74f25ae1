/* Run summaries beside the run logs (summaries.h).  A summary is an index
 * entry, small and rewritten whole: a temporary file and a rename keep it
 * readable at every instant, like the run logs.  The run logs stay the
 * record; a summary that is missing or broken only means the lister reads
 * the run log instead. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "summaries.h"

#define SUMMARY_DIR ".summaries"

static char *summary_path(const char *folder, const char *run_id)
{
    size_t n = strlen(folder) + strlen(run_id) + sizeof SUMMARY_DIR + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/" SUMMARY_DIR "/%s.json", folder, run_id);
    return p;
}

int rn_summary_put(const char *log_folder, const char *run_id, const json_t *summary,
                   int fsync_it)
{
    char *path = summary_path(log_folder, run_id);
    char *text = json_dumps(summary, JSON_COMPACT);
    int rc = path && text ? 0 : rn_error_set(RN_ENOMEM, "out of memory");
    if (!rc) {
        size_t n = strlen(log_folder) + sizeof SUMMARY_DIR + 2;
        char *dir = malloc(n);
        if (!dir)
            rc = rn_error_set(RN_ENOMEM, "out of memory");
        else {
            snprintf(dir, n, "%s/" SUMMARY_DIR, log_folder);
            rc = rn_mkdir_p(dir, 0755);
            free(dir);
        }
    }
    if (!rc)
        rc = rn_write_file_atomic(path, text, strlen(text), fsync_it);
    free(path);
    free(text);
    return rc;
}

static int visit(const char *folder, const char *run_id, rn_summary_fn fn, void *data)
{
    char *path = summary_path(folder, run_id);
    if (!path)
        return rn_error_set(RN_ENOMEM, "out of memory");
    json_error_t err;
    json_t *s = json_load_file(path, 0, &err);
    free(path);
    /* Not an object, or another run's: not trusted. */
    const char *id = json_string_value(json_object_get(s, "run_id"));
    if (s && (!json_is_object(s) || !id || strcmp(id, run_id) != 0)) {
        json_decref(s);
        s = NULL;
    }
    int rc = fn(run_id, s, data);
    json_decref(s);
    return rc;
}

static int is_run(const char *folder, const struct dirent *d, rn_runs_layout layout)
{
    size_t n = strlen(folder) + strlen(d->d_name) + 16;
    char *p = malloc(n);
    struct stat st;
    int yes = 0;
    if (!p)
        return 0;
    if (layout == RN_RUNS_AS_FILES) {
        size_t len = strlen(d->d_name);
        if (len > 5 && strcmp(d->d_name + len - 5, ".json") == 0) {
            if (d->d_type == DT_REG)
                yes = 1;
            else if (d->d_type == DT_UNKNOWN || d->d_type == DT_LNK) {
                snprintf(p, n, "%s/%s", folder, d->d_name);
                yes = stat(p, &st) == 0 && S_ISREG(st.st_mode);
            }
        }
    } else if (d->d_type == DT_DIR || d->d_type == DT_UNKNOWN || d->d_type == DT_LNK) {
        snprintf(p, n, "%s/%s/RunLog.json", folder, d->d_name);
        yes = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    }
    free(p);
    return yes;
}

int rn_summary_list(const char *log_folder, rn_runs_layout layout, rn_summary_fn fn,
                    void *data)
{
    DIR *dir = opendir(log_folder);
    if (!dir)
        return 0; /* nothing run yet */
    struct dirent *d;
    int rc = 0;
    while (!rc && (d = readdir(dir))) {
        if (d->d_name[0] == '.' || !is_run(log_folder, d, layout))
            continue;
        char id[256];
        size_t len = strlen(d->d_name);
        if (layout == RN_RUNS_AS_FILES)
            len -= 5;
        if (len >= sizeof id)
            continue; /* not a run id this engine makes or accepts */
        memcpy(id, d->d_name, len);
        id[len] = '\0';
        rc = visit(log_folder, id, fn, data);
    }
    closedir(dir);
    return rc;
}
