/* Unit tests for core/launch.c and core/spawn.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int group_setup(void **state)
{
    const char *t = getenv("TMPDIR");
    if (!t || strlen(t) > sizeof tmpdir - 32)
        t = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/rn-test-spawn-XXXXXX", t);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_in_tmp(const char *name)
{
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(rn_read_file(path, &data, &len), 0);
    return data;
}

/* A launch running `sh -c SCRIPT`, found through PATH like any command. */
static rn_launch *sh_launch(const char *script)
{
    rn_launch *l = NULL;
    assert_int_equal(rn_launch_new(&l), 0);
    assert_int_equal(rn_launch_add_arg(l, "sh"), 0);
    assert_int_equal(rn_launch_add_arg(l, "-c"), 0);
    assert_int_equal(rn_launch_add_arg(l, script), 0);
    return l;
}

/* Spawn, wait, and hand back the exit; the caller releases `c`. */
static void run(rn_launch *l, const char *cwd, const char *log, rn_child *c, rn_task_exit *ex)
{
    int rc = rn_spawn(l, cwd, log, c);
    if (rc)
        fail_msg("rn_spawn: %s", rn_error_last());
    assert_int_equal(rn_child_wait(c, ex, NULL), 0);
}

/* POSIX lets an exec failure surface either from posix_spawn or as a
 * child exiting 127; glibc does the first, valgrind's emulation the
 * second. */
static void expect_start_failure(rn_launch *l, const char *cwd, const char *named)
{
    rn_child c;
    rn_task_exit ex;
    int rc = rn_spawn(l, cwd, path_in_tmp("fail.log"), &c);
    if (rc) {
        assert_int_equal(rc, RN_EIO);
        assert_non_null(strstr(rn_error_last(), named));
        assert_int_equal(c.pid, -1);
        return;
    }
    assert_int_equal(rn_child_wait(&c, &ex, NULL), 0);
    assert_int_equal(ex.exit_code, 127);
    rn_child_release(&c, &ex);
}

static void test_log_order_and_exit_code(void **state)
{
    const char *log = path_in_tmp("order.log");
    rn_launch *l = sh_launch("echo out; echo err >&2; echo out2; exit 3");
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, log, &c, &ex);

    assert_int_equal(ex.version, 1);
    assert_int_equal(ex.exited, 1);
    assert_int_equal(ex.exit_code, 3);
    assert_int_equal(ex.signaled, 0);
    assert_string_equal(ex.log_path, log);
    assert_int_equal(ex.result_len, 0);
    assert_non_null(ex.result_data);

    char *text = slurp(log);
    assert_string_equal(text, "out\nerr\nout2\n");
    free(text);
    rn_child_release(&c, &ex);
    assert_null(c.log_path);

    /* A second attempt appends to the same log. */
    run(l, NULL, log, &c, &ex);
    text = slurp(log);
    assert_string_equal(text, "out\nerr\nout2\nout\nerr\nout2\n");
    free(text);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_result_descriptor(void **state)
{
    rn_launch *l = sh_launch("echo visible; printf 'a=1\\0b=two\\nlines\\0' >&5");
    assert_int_equal(rn_launch_want_result(l, 5), 0);
    assert_int_equal(rn_launch_result_fd(l), 5);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("result.log"), &c, &ex);

    assert_int_equal(ex.exit_code, 0);
    assert_int_equal(ex.result_len, 16);
    assert_memory_equal(ex.result_data, "a=1\0b=two\nlines\0", 16);
    /* The result never reaches the log. */
    char *text = slurp(path_in_tmp("result.log"));
    assert_string_equal(text, "visible\n");
    free(text);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_result_descriptor_range(void **state)
{
    rn_launch *l = NULL;
    assert_int_equal(rn_launch_new(&l), 0);
    assert_int_equal(rn_launch_result_fd(l), -1);
    assert_int_equal(rn_launch_want_result(l, 2), RN_EINVAL);
    assert_int_equal(rn_launch_want_result(l, 256), RN_EINVAL);
    rn_launch_free(l);
}

static void test_process_group(void **state)
{
    /* Field 5 of /proc/PID/stat is the process group. */
    rn_launch *l = sh_launch("read -r a b c d pgrp rest < /proc/$$/stat; printf %s \"$pgrp\" >&3");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    assert_int_equal(rn_spawn(l, NULL, path_in_tmp("pgrp.log"), &c), 0);
    assert_true(c.pid > 0);
    assert_true(c.start_mono > 0);
    assert_int_equal(rn_child_wait(&c, &ex, NULL), 0);

    char want[32];
    snprintf(want, sizeof want, "%ld", (long)c.pid);
    assert_int_equal(ex.exit_code, 0);
    assert_string_equal(ex.result_data, want);
    assert_true(getpgrp() != c.pid);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_working_directory(void **state)
{
    char real[PATH_MAX];
    assert_non_null(realpath(tmpdir, real));
    rn_launch *l = sh_launch("pwd -P >&3; echo here > made-here.txt");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, tmpdir, path_in_tmp("cwd.log"), &c, &ex);

    char want[PATH_MAX + 2];
    snprintf(want, sizeof want, "%s\n", real);
    assert_string_equal(ex.result_data, want);
    assert_int_equal(access(path_in_tmp("made-here.txt"), F_OK), 0);
    rn_child_release(&c, &ex);
    rn_launch_free(l);

    /* A missing directory: an error to start (glibc), or a child that
     * exits 127 where exec failures are not reported back (valgrind). */
    l = sh_launch("true");
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/no-such-dir", tmpdir);
    expect_start_failure(l, missing, "no-such-dir");
    rn_launch_free(l);
}

static void test_environment(void **state)
{
    assert_int_equal(setenv("RN_TEST_INHERITED", "from-engine", 1), 0);
    assert_int_equal(setenv("RN_TEST_DROPPED", "x", 1), 0);
    rn_launch *l = sh_launch("printf '%s|%s|%s|%s' \"$RN_TEST_INHERITED\" \"$RN_TEST_NEW\" "
                             "\"${RN_TEST_DROPPED-unset}\" \"$RN_TEST_EQ\" >&3");
    unsetenv("RN_TEST_INHERITED");
    unsetenv("RN_TEST_DROPPED");

    assert_int_equal(rn_launch_setenv(l, "RN_TEST_NEW", "first"), 0);
    assert_int_equal(rn_launch_setenv(l, "RN_TEST_NEW", "second value"), 0);
    assert_int_equal(rn_launch_setenv(l, "RN_TEST_EQ", "a=b"), 0);
    assert_int_equal(rn_launch_unsetenv(l, "RN_TEST_DROPPED"), 0);
    assert_int_equal(rn_launch_unsetenv(l, "RN_TEST_NEVER_SET"), 0);
    assert_int_equal(rn_launch_setenv(l, "BAD=NAME", "v"), RN_EINVAL);
    assert_int_equal(rn_launch_setenv(l, "", "v"), RN_EINVAL);
    assert_string_equal(rn_launch_getenv(l, "RN_TEST_NEW"), "second value");
    assert_null(rn_launch_getenv(l, "RN_TEST_DROPPED"));

    /* Each name appears once in what the child is given. */
    int seen = 0;
    for (char *const *e = rn_launch_envp(l); *e; e++)
        if (strncmp(*e, "RN_TEST_NEW=", 12) == 0)
            seen++;
    assert_int_equal(seen, 1);

    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("env.log"), &c, &ex);
    assert_string_equal(ex.result_data, "from-engine|second value|unset|a=b");
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_many_variables(void **state)
{
    /* Growth past the initial room keeps every variable. */
    rn_launch *l = sh_launch("printf '%s %s' \"$V0\" \"$V199\" >&3");
    char name[16], value[16];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "V%d", i);
        snprintf(value, sizeof value, "v%d", i);
        assert_int_equal(rn_launch_setenv(l, name, value), 0);
    }
    assert_int_equal(rn_launch_unsetenv(l, "V100"), 0);
    assert_null(rn_launch_getenv(l, "V100"));
    assert_string_equal(rn_launch_getenv(l, "V101"), "v101");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("many.log"), &c, &ex);
    assert_string_equal(ex.result_data, "v0 v199");
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_path_lookup_uses_launch_path(void **state)
{
    char bin[PATH_MAX], decoy[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", path_in_tmp("bin"));
    snprintf(decoy, sizeof decoy, "%s", path_in_tmp("decoy"));
    assert_int_equal(mkdir(bin, 0755), 0);
    char prog[PATH_MAX + 16];
    snprintf(prog, sizeof prog, "%s/rn-test-prog", bin);
    FILE *f = fopen(prog, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho \"prog ran with $1\"\n", f);
    fclose(f);
    assert_int_equal(chmod(prog, 0755), 0);
    /* A directory of the same name earlier on PATH is skipped. */
    char decoy_prog[PATH_MAX + 16];
    snprintf(decoy_prog, sizeof decoy_prog, "%s/rn-test-prog", decoy);
    assert_int_equal(mkdir(decoy, 0755), 0);
    assert_int_equal(mkdir(decoy_prog, 0755), 0);

    rn_launch *l = NULL;
    assert_int_equal(rn_launch_new(&l), 0);
    char path[2 * PATH_MAX + 2];
    snprintf(path, sizeof path, "%s:%s", decoy, bin);
    assert_int_equal(rn_launch_setenv(l, "PATH", path), 0);
    assert_int_equal(rn_launch_add_arg(l, "rn-test-prog"), 0);
    assert_int_equal(rn_launch_add_arg(l, "an argument"), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("path.log"), &c, &ex);
    assert_int_equal(ex.exit_code, 0);
    char *text = slurp(path_in_tmp("path.log"));
    assert_string_equal(text, "prog ran with an argument\n");
    free(text);
    rn_child_release(&c, &ex);
    rn_launch_free(l);

    /* Without PATH, /bin:/usr/bin is searched. */
    l = sh_launch("exit 0");
    assert_int_equal(rn_launch_unsetenv(l, "PATH"), 0);
    run(l, NULL, path_in_tmp("path.log"), &c, &ex);
    assert_int_equal(ex.exit_code, 0);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_not_found(void **state)
{
    rn_launch *l = NULL;
    rn_child c;
    assert_int_equal(rn_launch_new(&l), 0);
    assert_int_equal(rn_spawn(l, NULL, path_in_tmp("nf.log"), &c), RN_EINVAL);
    assert_int_equal(rn_launch_add_arg(l, "rn-no-such-program-anywhere"), 0);
    assert_int_equal(rn_spawn(l, NULL, path_in_tmp("nf.log"), &c), RN_ENOENT);
    assert_non_null(strstr(rn_error_last(), "rn-no-such-program-anywhere"));
    assert_int_equal(c.pid, -1);
    rn_launch_free(l);

    assert_int_equal(rn_launch_new(&l), 0);
    assert_int_equal(rn_launch_add_arg(l, "/nonexistent/prog"), 0);
    expect_start_failure(l, NULL, "/nonexistent/prog");
    rn_launch_free(l);

    /* An unwritable log is reported before anything starts. */
    l = sh_launch("true");
    assert_int_equal(rn_spawn(l, NULL, path_in_tmp("no-dir/x.log"), &c), RN_EIO);
    assert_non_null(strstr(rn_error_last(), "no-dir/x.log"));
    rn_launch_free(l);
}

static void test_stdin_is_dev_null(void **state)
{
    rn_launch *l = sh_launch("if read -r line; then echo got; else echo eof; fi");
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("stdin.log"), &c, &ex);
    char *text = slurp(path_in_tmp("stdin.log"));
    assert_string_equal(text, "eof\n");
    free(text);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_signals_reset(void **state)
{
    /* The engine may ignore and block signals; the task must not inherit
     * either, or a timeout's SIGTERM would never reach it. */
    struct sigaction ign = { 0 }, old_term, old_int;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &ign, &old_term);
    sigaction(SIGINT, &ign, &old_int);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old_mask);

    rn_launch *l = sh_launch("kill -TERM $$; echo survived");
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("sig.log"), &c, &ex);
    assert_int_equal(ex.exited, 0);
    assert_int_equal(ex.signaled, 1);
    assert_int_equal(ex.term_signal, SIGTERM);
    rn_child_release(&c, &ex);
    rn_launch_free(l);

    l = sh_launch("kill -USR1 $$; echo survived");
    run(l, NULL, path_in_tmp("sig.log"), &c, &ex);
    assert_int_equal(ex.signaled, 1);
    assert_int_equal(ex.term_signal, SIGUSR1);
    rn_child_release(&c, &ex);
    rn_launch_free(l);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
}

static void test_kill_group(void **state)
{
    /* The grandchild is in the same group and dies with it. */
    rn_launch *l = sh_launch("sleep 30 & echo $! >&3; wait");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    assert_int_equal(rn_spawn(l, NULL, path_in_tmp("kill.log"), &c), 0);
    /* Let the shell start its background job. */
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (fstat(c.result_fd, &st) == 0 && st.st_size > 0)
            break;
        usleep(2000);
    }
    assert_int_equal(rn_child_kill(&c, SIGKILL), 0);
    assert_int_equal(rn_child_wait(&c, &ex, NULL), 0);
    assert_int_equal(ex.signaled, 1);
    assert_int_equal(ex.term_signal, SIGKILL);
    long grandchild = atol(ex.result_data);
    assert_true(grandchild > 0);
    /* The sleep was killed too; it is reparented, so only probe it. */
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        char path[64], st[512] = "";
        snprintf(path, sizeof path, "/proc/%ld/stat", grandchild);
        FILE *f = fopen(path, "r");
        if (!f) {
            gone = 1;
            break;
        }
        if (fgets(st, sizeof st, f)) {
            const char *p = strrchr(st, ')');
            if (p && (p[2] == 'Z' || p[2] == 'X'))
                gone = 1;
        }
        fclose(f);
        if (!gone)
            usleep(2000);
    }
    assert_true(gone);
    rn_child_release(&c, &ex);
    rn_launch_free(l);

    /* Killing a group that has gone is not an error. */
    rn_child none = { .pid = c.pid, .result_fd = -1 };
    assert_int_equal(rn_child_kill(&none, SIGTERM), 0);
}

static void test_descriptors_not_inherited(void **state)
{
    /* A descriptor someone else left inheritable does not leak. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    int high = dup2(fd, 40);
    assert_int_equal(high, 40);
    rn_launch *l = sh_launch("ls /proc/$$/fd | tr '\\n' ' ' >&3");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("fds.log"), &c, &ex);
    /* 0-2, the result descriptor, and the one `ls` itself opened, if any,
     * in the shell's /proc listing: never 40. */
    assert_null(strstr(ex.result_data, "40"));
    assert_non_null(strstr(ex.result_data, "3"));
    rn_child_release(&c, &ex);
    rn_launch_free(l);
    close(high);
    close(fd);
}

static void test_finish_after_external_reap(void **state)
{
    rn_launch *l = sh_launch("printf done >&4; exit 7");
    assert_int_equal(rn_launch_want_result(l, 4), 0);
    rn_child c;
    rn_task_exit ex;
    assert_int_equal(rn_spawn(l, NULL, NULL, &c), 0);
    int st;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(-1, &st, 0, &ru);
    while (r < 0 && errno == EINTR);
    assert_int_equal(r, c.pid);
    assert_int_equal(rn_child_finish(&c, st, &ex), 0);
    assert_int_equal(ex.exit_code, 7);
    assert_string_equal(ex.result_data, "done");
    assert_null(ex.log_path);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

static void test_large_result(void **state)
{
    /* More than any initial buffer: read until end of file. */
    rn_launch *l = sh_launch("i=0; while [ $i -lt 2000 ]; do printf '0123456789' >&3; "
                             "i=$((i+1)); done");
    assert_int_equal(rn_launch_want_result(l, 3), 0);
    rn_child c;
    rn_task_exit ex;
    run(l, NULL, path_in_tmp("large.log"), &c, &ex);
    assert_int_equal(ex.result_len, 20000);
    assert_int_equal(strlen(ex.result_data), 20000);
    rn_child_release(&c, &ex);
    rn_launch_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_order_and_exit_code),
        cmocka_unit_test(test_result_descriptor),
        cmocka_unit_test(test_result_descriptor_range),
        cmocka_unit_test(test_process_group),
        cmocka_unit_test(test_working_directory),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_many_variables),
        cmocka_unit_test(test_path_lookup_uses_launch_path),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_stdin_is_dev_null),
        cmocka_unit_test(test_signals_reset),
        cmocka_unit_test(test_kill_group),
        cmocka_unit_test(test_descriptors_not_inherited),
        cmocka_unit_test(test_finish_after_external_reap),
        cmocka_unit_test(test_large_result),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
