/* rn_glob against what Python 3.11's pathlib.Path.glob returns (files
 * only, sorted) for the same tree. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "runnable/plugin.h"

static char root[64];

static void touch(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static void mkd(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void lnk(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/rn-glob-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    mkd("data");
    mkd("data/deep");
    mkd("dir.txt");
    mkd("sub");
    const char *files[] = { "a.txt", "b.csv", ".hidden", "data/x.txt", "data/y.csv",
                            "data/deep/z.txt", "data/deep/.h.txt", "sub/\xc3\xa9.txt",
                            "x[1.txt", "ab.txt", "aXb.txt" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        touch(files[i]);
    lnk("data", "link");
    lnk("a.txt", "alink.txt");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

struct collected {
    char text[1024];
    int calls;
    int stop_after;
};

static int collect(const char *rel, void *data)
{
    struct collected *c = data;
    if (c->calls++)
        strcat(c->text, " ");
    strcat(c->text, rel);
    return c->stop_after && c->calls == c->stop_after ? 42 : 0;
}

static void expect(const char *pattern, const char *want)
{
    struct collected c = { .text = "" };
    int rc = rn_glob(root, pattern, collect, &c);
    if (rc != 0)
        fail_msg("%s: rc %d (%s)", pattern, rc, rn_error_last());
    if (strcmp(c.text, want) != 0)
        fail_msg("%s: got [%s], want [%s]", pattern, c.text, want);
}

static void test_pathlib_cases(void **state)
{
    (void)state;
    expect("*.txt", "a.txt aXb.txt ab.txt alink.txt x[1.txt");
    expect("*", ".hidden a.txt aXb.txt ab.txt alink.txt b.csv x[1.txt");
    expect("**/*.txt", "a.txt aXb.txt ab.txt alink.txt data/deep/.h.txt data/deep/z.txt "
                       "data/x.txt sub/\xc3\xa9.txt x[1.txt");
    expect("**/*", ".hidden a.txt aXb.txt ab.txt alink.txt b.csv data/deep/.h.txt "
                   "data/deep/z.txt data/x.txt data/y.csv sub/\xc3\xa9.txt x[1.txt");
    expect("data/*", "data/x.txt data/y.csv");
    expect("data/**/*.txt", "data/deep/.h.txt data/deep/z.txt data/x.txt");
    expect("?.txt", "a.txt");
    expect("[ab].*", "a.txt b.csv");
    expect("[!a]*.txt", "x[1.txt");
    expect("a[A-Z]b.txt", "aXb.txt");
    expect("x[1.txt", "x[1.txt");
    expect("*/*.txt", "data/x.txt link/x.txt sub/\xc3\xa9.txt");
    expect("link/*.txt", "link/x.txt");
    expect("**/z.txt", "data/deep/z.txt");
    expect("a.txt", "a.txt");
    expect("nope.txt", "");
    expect("data", "");
    expect("./data/x.txt", "data/x.txt");
    expect("data//x.txt", "data/x.txt");
    expect("**", "");
    expect("**/deep/*", "data/deep/.h.txt data/deep/z.txt");
    expect("sub/?.txt", "sub/\xc3\xa9.txt");
    expect("*/*/*", "data/deep/.h.txt data/deep/z.txt link/deep/.h.txt link/deep/z.txt");
    expect("**/**/z.txt", "data/deep/z.txt");
    expect(".*", ".hidden");
}

static void test_rejected(void **state)
{
    (void)state;
    struct collected c = { .text = "" };
    assert_int_equal(rn_glob(root, "/etc/passwd", collect, &c), RN_EINVAL);
    assert_int_equal(rn_glob(root, "../x", collect, &c), RN_EINVAL);
    assert_int_equal(rn_glob(root, "data/../a.txt", collect, &c), RN_EINVAL);
    assert_int_equal(rn_glob(root, "", collect, &c), RN_EINVAL);
    assert_int_equal(rn_glob(root, ".", collect, &c), RN_EINVAL);
    assert_int_equal(rn_glob(root, "a**", collect, &c), RN_EINVAL);
    assert_true(strlen(rn_error_last()) > 0);
    assert_int_equal(c.calls, 0);
}

static void test_stop_and_missing_base(void **state)
{
    (void)state;
    struct collected c = { .text = "", .stop_after = 2 };
    assert_int_equal(rn_glob(root, "*.txt", collect, &c), 42);
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.text, "a.txt aXb.txt");

    struct collected d = { .text = "" };
    char missing[128];
    snprintf(missing, sizeof missing, "%s/does-not-exist", root);
    assert_int_equal(rn_glob(missing, "*", collect, &d), 0);
    assert_int_equal(d.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pathlib_cases),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_stop_and_missing_base),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
