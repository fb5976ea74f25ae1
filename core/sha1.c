/* SHA-1 (FIPS 180-4): only for runnable's dag hash, never for integrity. */

#include "config.h"

#include <string.h>

#include "digest.h"

static inline uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void compress(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void rn_sha1_hex(const void *data, size_t len, char out_hex[41])
{
    uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
    const unsigned char *p = data;
    uint64_t bits = (uint64_t)len * 8;
    size_t rest = len;

    for (; rest >= 64; p += 64, rest -= 64)
        compress(h, p);
    unsigned char block[128] = { 0 };
    if (rest)
        memcpy(block, p, rest);
    block[rest] = 0x80;
    size_t total = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        block[total - 8 + i] = (unsigned char)(bits >> (56 - 8 * i));
    compress(h, block);
    if (total == 128)
        compress(h, block + 64);

    unsigned char d[20];
    for (int i = 0; i < 5; i++) {
        d[4 * i] = (unsigned char)(h[i] >> 24);
        d[4 * i + 1] = (unsigned char)(h[i] >> 16);
        d[4 * i + 2] = (unsigned char)(h[i] >> 8);
        d[4 * i + 3] = (unsigned char)h[i];
    }
    rn_digest_hex(d, sizeof d, out_hex);
}
