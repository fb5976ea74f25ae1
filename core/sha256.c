/* SHA-256 (FIPS 180-4), self-contained so the core needs no crypto library. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "runnable/plugin.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void rn_sha256_init(rn_sha256_ctx *c)
{
    static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, iv, sizeof iv);
    c->total = 0;
    c->fill = 0;
}

void rn_sha256_update(rn_sha256_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->total += len;
    if (c->fill) {
        size_t take = 64 - c->fill < len ? 64 - c->fill : len;
        memcpy(c->block + c->fill, p, take);
        c->fill += take;
        p += take;
        len -= take;
        if (c->fill < 64)
            return;
        compress(c->h, c->block);
        c->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(c->h, p);
    if (len) {
        memcpy(c->block, p, len);
        c->fill = len;
    }
}

void rn_sha256_final(rn_sha256_ctx *c, unsigned char out[32])
{
    uint64_t bits = c->total * 8;
    c->block[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->block + c->fill, 0, 64 - c->fill);
        compress(c->h, c->block);
        c->fill = 0;
    }
    memset(c->block + c->fill, 0, 56 - c->fill);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    compress(c->h, c->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

void rn_digest_hex(const unsigned char *digest, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * n] = '\0';
}

void rn_sha256_hex(const void *data, size_t len, char out_hex[65])
{
    rn_sha256_ctx c;
    unsigned char d[32];
    rn_sha256_init(&c);
    rn_sha256_update(&c, data, len);
    rn_sha256_final(&c, d);
    rn_digest_hex(d, sizeof d, out_hex);
}

#define CHUNK ((size_t)1 << 20)
#define HUGE_FILE ((off_t)1 << 30)
#define READ_SIZE ((size_t)64 << 10)

/* Hash `len` bytes starting at `off` (len < 0: up to EOF); stops early
 * at EOF should the file shrink meanwhile. */
static int hash_range(rn_sha256_ctx *c, int fd, off_t off, off_t len, unsigned char *buf,
                      const char *path)
{
    while (len != 0) {
        size_t want = len < 0 || (off_t)READ_SIZE < len ? READ_SIZE : (size_t)len;
        ssize_t n = pread(fd, buf, want, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rn_error_set(RN_EIO, "cannot read %s: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        rn_sha256_update(c, buf, (size_t)n);
        off += n;
        if (len > 0)
            len -= n;
    }
    return 0;
}

/*
 * Files of 1 GiB and more get runnable's fingerprint instead of a full
 * hash (size as text, first MiB, last MiB), so catalog entries match the
 * ones runnable records for the same data.
 */
int rn_sha256_file(const char *path, char out_hex[65])
{
    unsigned char buf[READ_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_error_set(errno == ENOENT ? RN_ENOENT : RN_EIO, "cannot open %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return rn_error_set(RN_EIO, "cannot stat %s: %s", path, strerror(e));
    }

    rn_sha256_ctx c;
    rn_sha256_init(&c);
    int rc;
    if (st.st_size < HUGE_FILE) {
        rc = hash_range(&c, fd, 0, -1, buf, path);
    } else {
        char size_text[32];
        int n = snprintf(size_text, sizeof size_text, "%lld", (long long)st.st_size);
        rn_sha256_update(&c, size_text, (size_t)n);
        off_t first = (off_t)CHUNK;
        rc = hash_range(&c, fd, 0, first, buf, path);
        if (!rc) {
            off_t last = st.st_size - first < (off_t)CHUNK ? st.st_size - first : (off_t)CHUNK;
            rc = hash_range(&c, fd, st.st_size - last, last, buf, path);
        }
    }
    close(fd);
    if (rc)
        return rc;
    unsigned char d[32];
    rn_sha256_final(&c, d);
    rn_digest_hex(d, sizeof d, out_hex);
    return 0;
}
