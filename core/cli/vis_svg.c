/* `runnable visualize --format svg`: the DOT drawing handed to Graphviz's
 * `dot -Tsvg`, whose SVG goes straight to our standard output.  Graphviz is
 * an optional tool, not a build dependency: when `dot` is missing the user
 * is told what to install, before anything is written. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "runnable/plugin.h"

extern char **environ;

/* Whether an executable `dot` is on PATH: checked first so that a missing
 * Graphviz is a clear usage message, not a failed spawn. */
static int dot_on_path(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return 0;
    char *copy = strdup(path);
    int found = 0;
    for (char *save = NULL, *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char file[4096];
        struct stat st;
        snprintf(file, sizeof file, "%s/dot", *dir ? dir : ".");
        found = stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0;
    }
    free(copy);
    return found;
}

int rn_cli_dot_to_svg(const rn_buf *dot)
{
    if (!dot_on_path()) {
        fprintf(stderr, "runnable visualize: --format svg needs Graphviz's 'dot' program, which "
                        "is not on PATH.\nInstall graphviz (Debian/Ubuntu: apt-get install "
                        "graphviz), or use --format dot and draw it elsewhere.\n");
        return RN_EXIT_USAGE;
    }
    int in[2];
    if (pipe(in) < 0) {
        fprintf(stderr, "runnable: error: pipe: %s\n", strerror(errno));
        return RN_EXIT_FAILED;
    }
    fflush(stdout); /* dot writes to the same standard output after us */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    char *argv[] = {"dot", "-Tsvg", NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    if (err) {
        close(in[1]);
        fprintf(stderr, "runnable: error: cannot run dot: %s\n", strerror(err));
        return RN_EXIT_FAILED;
    }
    /* dot exiting early must be an error we report, not a SIGPIPE death */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    int werr = 0;
    while (off < dot->len) {
        ssize_t n = write(in[1], dot->data + off, dot->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            werr = errno;
            break;
        }
        off += (size_t)n;
    }
    close(in[1]);
    signal(SIGPIPE, old);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "runnable: error: dot -Tsvg failed (%s %d)\n",
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return RN_EXIT_FAILED;
    }
    if (werr) {
        fprintf(stderr, "runnable: error: writing to dot: %s\n", strerror(werr));
        return RN_EXIT_FAILED;
    }
    return RN_EXIT_OK;
}
