/* SHA-256 / SHA-1 against the FIPS 180 example vectors, and the large-file
 * fingerprint against the same construction done with Python's hashlib. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "digest.h"
#include "runnable/plugin.h"

static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    rn_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    rn_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    rn_sha256_hex(msg448, strlen(msg448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_incremental(void **state)
{
    (void)state;
    /* One million 'a', fed in awkward pieces to cross block boundaries. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    rn_sha256_ctx c;
    rn_sha256_init(&c);
    size_t off = 0, step = 1;
    while (off < sizeof a) {
        size_t n = step < sizeof a - off ? step : sizeof a - off;
        rn_sha256_update(&c, a + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    unsigned char d[32];
    char hex[65];
    rn_sha256_final(&c, d);
    rn_digest_hex(d, sizeof d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha1_vectors(void **state)
{
    (void)state;
    char hex[41];
    rn_sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    rn_sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    rn_sha1_hex(msg448, strlen(msg448), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_sha256_file(void **state)
{
    (void)state;
    char path[] = "/tmp/rn-sha-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    char hex[65];
    assert_int_equal(rn_sha256_file(path, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* A sparse file of 1 GiB + 5 bytes takes no disk space but gets the
     * fingerprint: hashlib over b"1073741829", the first MiB, the last MiB. */
    off_t size = ((off_t)1 << 30) + 5;
    assert_int_equal(ftruncate(fd, size), 0);
    assert_int_equal(pwrite(fd, "head", 4, 0), 4);
    assert_int_equal(pwrite(fd, "tail", 4, size - 4), 4);
    close(fd);
    assert_int_equal(rn_sha256_file(path, hex), 0);
    assert_string_equal(hex, "db586d36dbf351276a54e341619ef8cead582091dce75271a37cd169a658a778");
    unlink(path);

    assert_int_equal(rn_sha256_file("/nonexistent/rn-sha", hex), RN_ENOENT);
    assert_non_null(strstr(rn_error_last(), "/nonexistent/rn-sha"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_incremental),
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_sha256_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
