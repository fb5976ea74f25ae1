/*
 * Running Slurm's command-line tools for the slurm executor: one child at
 * a time, its stdout and stderr read through pipes until both close, then
 * reaped.  The commands are short (sbatch, squeue, scancel), so waiting for
 * them inline keeps the executor simple; the scheduler calls them at most
 * once per poll interval however many jobs are out.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurm.h"

extern char **environ;

int rn_slurm_run(char *const argv[], rn_buf *out, rn_buf *err, int *status)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return rn_error_set(RN_EIO, "cannot run %s: %s", argv[0], strerror(errno));
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return rn_error_set(RN_EIO, "cannot run %s: %s", argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return rn_error_set(rc == ENOENT ? RN_ENOENT : RN_EIO,
                            "cannot run %s: %s (is Slurm's client installed and on PATH?)",
                            argv[0], strerror(rc));
    }
    struct pollfd pfd[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    rn_buf *bufs[2] = {out, err};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            char chunk[4096];
            ssize_t n = read(pfd[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                rn_buf_append(bufs[i], chunk, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    /* Callers read the text as strings. */
    rn_buf_append(out, "", 0);
    rn_buf_append(err, "", 0);
    return 0;
}

int rn_slurm_shell_quote(rn_buf *b, const char *s)
{
    int rc = rn_buf_append(b, "'", 1);
    for (const char *p = s; rc == 0 && *p; p++)
        rc = *p == '\'' ? rn_buf_append(b, "'\\''", 4) : rn_buf_append(b, p, 1);
    return rc ? rc : rn_buf_append(b, "'", 1);
}

int rn_slurm_cancel(const char *const *ids, size_t n)
{
    char **argv = calloc(n + 3, sizeof *argv);
    if (!argv)
        return rn_error_set(RN_ENOMEM, "out of memory");
    argv[0] = "scancel";
    argv[1] = "--quiet";
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = (char *)ids[i];
    rn_buf out = {0}, err = {0};
    int status = 0;
    int rc = rn_slurm_run(argv, &out, &err, &status);
    if (rc == 0 && status != 0)
        rc = rn_error_set(RN_EIO, "scancel failed (status %d): %s", status,
                          err.data ? err.data : "");
    free(argv);
    rn_buf_free(&out);
    rn_buf_free(&err);
    return rc;
}
