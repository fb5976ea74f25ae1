/* Running task processes: the rn_launch builder (declared in plugin.h) and
 * spawning/awaiting children, each in its own process group. */
#ifndef RN_SPAWN_H
#define RN_SPAWN_H

#include <limits.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/resource.h>
#include "runnable/plugin.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* posix_spawn_file_actions_addclosefrom_np appeared in glibc 2.34. */
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
#define RN_HAVE_ADDCLOSEFROM 1
#endif
#endif

/* rn_find_program: in runnable/plugin.h (plugins use it too). */

/* A launch starts with the engine's environment (environ) and no argv. */
int rn_launch_new(rn_launch **out);
void rn_launch_free(rn_launch *l);
/* Read back what a plugin set (for executors that wrap commands). */
char *const *rn_launch_argv(const rn_launch *l);
char *const *rn_launch_envp(const rn_launch *l);
int rn_launch_result_fd(const rn_launch *l); /* -1 when none */
/* Value of NAME in the launch's environment (borrowed), or NULL. */
const char *rn_launch_getenv(const rn_launch *l, const char *name);

/* CLOCK_MONOTONIC in seconds: start times, durations, timers. */
double rn_mono_now(void);

typedef struct rn_child {
    pid_t pid;             /* also the process group id */
    int result_fd;         /* parent's descriptor of the result file, or -1 */
    char *log_path;
    double start_mono;     /* CLOCK_MONOTONIC seconds at spawn */
    char *result_data;     /* what the child left in its result file, read
                              when it ends; freed by rn_child_release */
} rn_child;

/* Child processes start with the ordinary signal dispositions and an
 * empty mask, whatever the engine blocks or ignores for its bookkeeping:
 * sets those attributes (plus `more_flags`) on `attr`; 0 or an errno. */
int rn_spawnattr_ordinary(posix_spawnattr_t *attr, short more_flags);

/* Start the launch: argv[0] looked up on the launch's PATH, working
 * directory `cwd` (NULL: current), stdin /dev/null, stdout and stderr
 * appended to `log_path`, its own process group.  Does not wait. */
int rn_spawn(const rn_launch *l, const char *cwd, const char *log_path, rn_child *out);

/* Block until this child ends (EINTR is retried), then fill `ex` (its
 * result_data is malloc'd and owned by the child: freed by
 * rn_child_release).  `ru` may be NULL. */
int rn_child_wait(rn_child *c, rn_task_exit *ex, struct rusage *ru);
/* For schedulers that reap with wait4(-1): turn a reaped status into ex. */
int rn_child_finish(rn_child *c, int wstatus, rn_task_exit *ex);
/* Free what the child holds (result data, log path); does not kill. */
void rn_child_release(rn_child *c, rn_task_exit *ex);
/* Signal the child's whole process group; 0 if the group is already gone. */
int rn_child_kill(const rn_child *c, int sig);

#endif
