/* Starting and awaiting task processes.
 *
 * One posix_spawn per attempt and nothing else: no shell in between, no
 * helper fork, no environment rebuilt here (the launch already holds the
 * final envp).  glibc's posix_spawn is a vfork-style clone that reports
 * exec and file-action failures synchronously, so an error here is a real
 * "could not start"; where that is not possible (valgrind's emulation of
 * clone) the child exits 127 instead, which POSIX allows too. */
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
#include <time.h>
#include <unistd.h>

#include "spawn.h"

/* Used when the launch has no PATH: what a POSIX shell would assume,
 * minus the current directory. */
static const char default_path[] = "/bin:/usr/bin";

double rn_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * posix_spawnp would search the *engine's* PATH; a child's command must be
 * found on the PATH the child will have, so the search is done here.
 * Relative PATH entries are taken relative to the child's working
 * directory, where the child itself would resolve them.
 */
void rn_signal_name(int sig, char *out, size_t n)
{
    /* sigabbrev_np: glibc 2.32 and later (Debian 12 has 2.36). */
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(out, n, "SIG%s", abbrev);
    else
        snprintf(out, n, "%d", sig);
}

int rn_find_program(const char *name, const char *path, const char *cwd, char *out)
{
    if (strchr(name, '/')) {
        if (strlen(name) >= PATH_MAX || !is_executable_file(name))
            return rn_error_set(RN_ENOENT, "cannot start '%s': not an executable file", name);
        strcpy(out, name);
        return 0;
    }
    if (!path)
        path = default_path;

    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : strlen(p);
        int n;
        /* An empty entry means the current directory (POSIX). */
        const char *dir = dl ? p : ".";
        int dirlen = dl ? (int)dl : 1;
        if (cwd && dir[0] != '/')
            n = snprintf(out, PATH_MAX, "%s/%.*s/%s", cwd, dirlen, dir, name);
        else
            n = snprintf(out, PATH_MAX, "%.*s/%s", dirlen, dir, name);
        if (n > 0 && (size_t)n < PATH_MAX && is_executable_file(out))
            return 0;
        if (!end)
            break;
        p = end + 1;
    }
    return rn_error_set(RN_ENOENT, "cannot start '%s': not found on PATH '%s'", name, path);
}

/*
 * An unnamed file the child writes its result into.  A regular file rather
 * than a pipe: the parent never has to drain it while waiting, and a
 * background process left behind by the task cannot hold the step open.
 *
 * memfd first: measured at about 8 us against 20-70 us for an O_TMPFILE
 * on ext4 (an inode created and orphaned per attempt, with its journal
 * traffic), and the result of a step is small.  O_TMPFILE next to the log
 * (or in /tmp), then a named temporary unlinked at once, for systems
 * without memfd.  None of them leaves a name behind after a crash.
 */
static int open_result_file(const char *log_path)
{
    int fd = -1;
#ifdef MFD_CLOEXEC
    fd = memfd_create("rn-result", MFD_CLOEXEC);
#endif
#ifdef O_TMPFILE
    if (fd < 0) {
        char dir[PATH_MAX];
        const char *slash = log_path ? strrchr(log_path, '/') : NULL;
        if (!log_path)
            strcpy(dir, "/tmp");
        else if (!slash)
            strcpy(dir, ".");
        else if (slash == log_path)
            strcpy(dir, "/");
        else if ((size_t)(slash - log_path) < sizeof dir) {
            memcpy(dir, log_path, (size_t)(slash - log_path));
            dir[slash - log_path] = '\0';
        } else
            strcpy(dir, "/tmp");
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
            fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
#endif
    if (fd < 0) {
        char name[] = "/tmp/rn-result-XXXXXX";
        fd = mkostemp(name, O_CLOEXEC);
        if (fd >= 0)
            unlink(name);
    }
    if (fd < 0)
        return rn_error_set(RN_EIO, "cannot create a result file: %s", strerror(errno));
    return fd;
}

/* The child's file actions read the parent's descriptors after some of
 * 0..2 have been replaced; a source that is itself 0..2 (an engine run
 * with closed stdio) would be clobbered first, so move it out of the way. */
static int lift_above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
        return rn_error_set(RN_EIO, "cannot duplicate a descriptor: %s", strerror(errno));
    close(*fd);
    *fd = nfd;
    return 0;
}

/*
 * A log named /proc/self/fd/N is a descriptor of this process (the
 * execution log kept in memory): duplicated rather than opened again,
 * which would walk the path through procfs on every spawn.  The duplicate
 * shares the engine's open file description, which gets O_APPEND: the
 * engine only appends to it too and reads it at explicit offsets.
 * Returns -1 when `path` is no such name (the caller opens it).
 */
static int dup_own_fd(const char *path)
{
    static const char pre[] = "/proc/self/fd/";
    if (strncmp(path, pre, sizeof pre - 1) != 0)
        return -1;
    const char *num = path + sizeof pre - 1;
    char *end;
    long n = strtol(num, &end, 10);
    if (end == num || *end || n < 0 || n > INT_MAX)
        return -1;
    int mode = fcntl((int)n, F_GETFL);
    if (mode < 0 || (mode & O_ACCMODE) == O_RDONLY)
        return -1; /* not ours to write to: open() decides */
    int fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0 && fcntl(fd, F_SETFL, O_APPEND) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int rn_spawnattr_ordinary(posix_spawnattr_t *attr, short more_flags)
{
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGQUIT);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGCHLD);
    int e = posix_spawnattr_setflags(attr, (short)(POSIX_SPAWN_SETSIGMASK |
                                                   POSIX_SPAWN_SETSIGDEF | more_flags));
    if (!e)
        e = posix_spawnattr_setsigmask(attr, &none);
    if (!e)
        e = posix_spawnattr_setsigdefault(attr, &dfl);
    return e;
}

int rn_spawn(const rn_launch *l, const char *cwd, const char *log_path, rn_child *out)
{
    memset(out, 0, sizeof *out);
    out->pid = -1;
    out->result_fd = -1;

    char *const *argv = l ? rn_launch_argv(l) : NULL;
    if (!argv || !argv[0])
        return rn_error_set(RN_EINVAL, "nothing to run: the launch has no arguments");

    char found[PATH_MAX];
    const char *prog = argv[0];
    int rc;
    if (!strchr(prog, '/')) {
        rc = rn_find_program(prog, rn_launch_getenv(l, "PATH"), cwd, found);
        if (rc)
            return rc;
        prog = found;
    }

    int want = rn_launch_result_fd(l);
    int logfd = -1, resfd = -1;
    char *log_copy = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_init = 0, attr_init = 0;

    if (log_path) {
        logfd = dup_own_fd(log_path);
        if (logfd < 0)
            logfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (logfd < 0) {
            rc = rn_error_set(RN_EIO, "cannot open log '%s': %s", log_path, strerror(errno));
            goto fail;
        }
        log_copy = strdup(log_path);
        if (!log_copy) {
            rc = rn_error_set(RN_ENOMEM, "out of memory");
            goto fail;
        }
    } else {
        logfd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (logfd < 0) {
            rc = rn_error_set(RN_EIO, "cannot open /dev/null: %s", strerror(errno));
            goto fail;
        }
    }
    if ((rc = lift_above_stdio(&logfd)) != 0)
        goto fail;
    if (want >= 0) {
        resfd = open_result_file(log_path);
        if (resfd < 0) {
            rc = resfd;
            goto fail;
        }
        if ((rc = lift_above_stdio(&resfd)) != 0)
            goto fail;
    }

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        rc = rn_error_set(RN_ENOMEM, "posix_spawn_file_actions_init: %s", strerror(rc));
        goto fail;
    }
    fa_init = 1;
    /*
     * The order matters.  Both output streams share one open file
     * description (O_APPEND), so stdout and stderr interleave in the order
     * they were written.  The result file is parked on 0 so that every
     * descriptor from 3 up can be closed in one action, then moved to the
     * number the plugin asked for, and 0 finally becomes /dev/null.
     */
    int e = posix_spawn_file_actions_adddup2(&fa, logfd, 1);
    if (!e)
        e = posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    if (!e && resfd >= 0)
        e = posix_spawn_file_actions_adddup2(&fa, resfd, 0);
#ifdef RN_HAVE_ADDCLOSEFROM
    /* Everything the library opens is O_CLOEXEC; this also covers
     * descriptors other code in the engine's process left inheritable. */
    if (!e)
        e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!e && resfd >= 0)
        e = posix_spawn_file_actions_adddup2(&fa, 0, want);
    if (!e)
        e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!e && cwd)
        e = posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (e) {
        rc = rn_error_set(RN_EIO, "cannot prepare file actions: %s", strerror(e));
        goto fail;
    }

    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        rc = rn_error_set(RN_ENOMEM, "posix_spawnattr_init: %s", strerror(rc));
        goto fail;
    }
    attr_init = 1;
    /* Own process group: a timeout or an interrupt can then kill the task
     * and everything it started with one kill(-pgid). */
    e = rn_spawnattr_ordinary(&attr, POSIX_SPAWN_SETPGROUP);
    if (!e)
        e = posix_spawnattr_setpgroup(&attr, 0);
    if (e) {
        rc = rn_error_set(RN_EIO, "cannot prepare spawn attributes: %s", strerror(e));
        goto fail;
    }

    pid_t pid;
    double t0 = rn_mono_now();
    e = posix_spawn(&pid, prog, &fa, &attr, argv, rn_launch_envp(l));
    if (e) {
        if (cwd)
            rc = rn_error_set(RN_EIO, "cannot start '%s' in '%s': %s", prog, cwd, strerror(e));
        else
            rc = rn_error_set(RN_EIO, "cannot start '%s': %s", prog, strerror(e));
        goto fail;
    }

    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(logfd);
    out->pid = pid;
    out->result_fd = resfd;
    out->log_path = log_copy;
    out->start_mono = t0;
    return 0;

fail:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    if (logfd >= 0)
        close(logfd);
    if (resfd >= 0)
        close(resfd);
    free(log_copy);
    return rc;
}

/* Read the whole result file from its start: the child moved the shared
 * offset, so pread. */
static int read_result(int fd, char **out, size_t *out_len)
{
    struct stat st;
    size_t cap = 256;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (!buf)
        return rn_error_set(RN_ENOMEM, "out of memory");
    size_t len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            /* Something still running in the task's group may be
             * appending; take what is there. */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return rn_error_set(RN_ENOMEM, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = pread(fd, buf + len, cap - 1 - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            free(buf);
            return rn_error_set(RN_EIO, "cannot read the task's result: %s", strerror(err));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int rn_child_finish(rn_child *c, int wstatus, rn_task_exit *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->version = 1;
    if (WIFEXITED(wstatus)) {
        ex->exited = 1;
        ex->exit_code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        ex->signaled = 1;
        ex->term_signal = WTERMSIG(wstatus);
    }
    ex->log_path = c->log_path;
    /* Never NULL, so plugins can treat "no result" as empty. */
    ex->result_data = "";
    ex->result_len = 0;

    int rc = 0;
    if (c->result_fd >= 0) {
        char *data = NULL;
        size_t len = 0;
        rc = read_result(c->result_fd, &data, &len);
        close(c->result_fd);
        c->result_fd = -1;
        if (rc == 0) {
            free(c->result_data);
            c->result_data = data;
            ex->result_data = data;
            ex->result_len = len;
        }
    }
    return rc;
}

int rn_child_wait(rn_child *c, rn_task_exit *ex, struct rusage *ru)
{
    int st;
    pid_t r;
    do
        r = wait4(c->pid, &st, 0, ru);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        memset(ex, 0, sizeof *ex);
        ex->version = 1;
        ex->result_data = "";
        return rn_error_set(RN_EIO, "cannot wait for process %ld: %s", (long)c->pid,
                            strerror(errno));
    }
    return rn_child_finish(c, st, ex);
}

void rn_child_release(rn_child *c, rn_task_exit *ex)
{
    if (c) {
        if (c->result_fd >= 0)
            close(c->result_fd);
        c->result_fd = -1;
        free(c->result_data);
        c->result_data = NULL;
        free(c->log_path);
        c->log_path = NULL;
    }
    if (ex) {
        ex->result_data = "";
        ex->result_len = 0;
        ex->log_path = NULL;
    }
}

int rn_child_kill(const rn_child *c, int sig)
{
    if (!c || c->pid <= 0)
        return rn_error_set(RN_EINVAL, "no process to signal");
    if (kill(-c->pid, sig) == 0)
        return 0;
    /* Already gone (and reaped): the goal is met. */
    if (errno == ESRCH)
        return 0;
    return rn_error_set(RN_EIO, "cannot signal process group %ld: %s", (long)c->pid,
                        strerror(errno));
}
