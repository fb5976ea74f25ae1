/* rn_mkdir_p, rn_write_file_atomic, rn_read_file, rn_copy_file. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "runnable/plugin.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/rn-fs-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static char *at(const char *rel)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", root, rel);
    return p[k];
}

static void test_mkdir_p(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(rn_mkdir_p(at("a/b//c/"), 0755), 0);
    assert_int_equal(stat(at("a/b/c"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(rn_mkdir_p(at("a/b/c"), 0755), 0);
    assert_int_equal(rn_mkdir_p(root, 0755), 0);

    assert_int_equal(rn_write_file_atomic(at("a/file"), "x", 1, 0), 0);
    assert_int_equal(rn_mkdir_p(at("a/file/sub"), 0755), RN_EIO);
    assert_non_null(strstr(rn_error_last(), "not a folder"));
    assert_int_equal(rn_mkdir_p("", 0755), RN_EINVAL);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_write_read(void **state)
{
    (void)state;
    assert_int_equal(rn_mkdir_p(at("w"), 0755), 0);
    const char text[] = "hello\0world";
    assert_int_equal(rn_write_file_atomic(at("w/f.json"), text, sizeof text - 1, 0), 0);
    assert_int_equal(rn_write_file_atomic(at("w/f.json"), text, sizeof text - 1, 1), 0);

    char *data;
    size_t len;
    assert_int_equal(rn_read_file(at("w/f.json"), &data, &len), 0);
    assert_int_equal(len, sizeof text - 1);
    assert_memory_equal(data, text, len);
    assert_int_equal(data[len], '\0');
    free(data);

    /* No temporary file is left behind. */
    assert_int_equal(count_entries(at("w")), 1);

    /* The usual umask-governed mode, not mkstemp's 0600. */
    mode_t old = umask(022);
    assert_int_equal(rn_write_file_atomic(at("w/mode"), "", 0, 0), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(at("w/mode"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    assert_int_equal(rn_read_file(at("w/none"), &data, &len), RN_ENOENT);
    assert_null(data);
    assert_int_equal(rn_write_file_atomic(at("nodir/f"), "x", 1, 0), RN_ENOENT);

    /* Files whose size stat cannot tell. */
    assert_int_equal(rn_read_file("/proc/self/status", &data, NULL), 0);
    assert_non_null(strstr(data, "Pid:"));
    free(data);
}

static void test_copy(void **state)
{
    (void)state;
    size_t big = 300 * 1000 + 7;
    char *src = malloc(big);
    for (size_t i = 0; i < big; i++)
        src[i] = (char)(i * 31 + 7);
    assert_int_equal(rn_write_file_atomic(at("src.bin"), src, big, 0), 0);
    assert_int_equal(chmod(at("src.bin"), 0750), 0);

    assert_int_equal(rn_copy_file(at("src.bin"), at("c/d/e/dst.bin")), 0);
    char *data;
    size_t len;
    assert_int_equal(rn_read_file(at("c/d/e/dst.bin"), &data, &len), 0);
    assert_int_equal(len, big);
    assert_memory_equal(data, src, big);
    free(data);
    struct stat st;
    assert_int_equal(stat(at("c/d/e/dst.bin"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);

    /* Overwrites a longer existing file completely. */
    assert_int_equal(rn_write_file_atomic(at("small"), "ab", 2, 0), 0);
    assert_int_equal(rn_copy_file(at("small"), at("c/d/e/dst.bin")), 0);
    assert_int_equal(rn_read_file(at("c/d/e/dst.bin"), &data, &len), 0);
    assert_int_equal(len, 2);
    free(data);

    /* Pseudo-files report size 0 but have contents. */
    assert_int_equal(rn_copy_file("/proc/self/status", at("status")), 0);
    assert_int_equal(rn_read_file(at("status"), &data, &len), 0);
    assert_non_null(strstr(data, "Pid:"));
    free(data);

    assert_int_equal(rn_copy_file(at("small"), at("small")), RN_EINVAL);
    assert_int_equal(rn_copy_file(at("missing"), at("x")), RN_ENOENT);
    assert_int_equal(rn_copy_file(at("c"), at("x")), RN_EIO);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
