/* Message digests used inside librunnable (data hashes, dag hash). */
#ifndef RN_DIGEST_H
#define RN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Incremental SHA-256, for data that does not sit in one buffer. */
typedef struct rn_sha256_ctx {
    uint32_t h[8];
    uint64_t total;        /* bytes hashed so far */
    unsigned char block[64];
    size_t fill;           /* bytes waiting in `block` */
} rn_sha256_ctx;

void rn_sha256_init(rn_sha256_ctx *c);
void rn_sha256_update(rn_sha256_ctx *c, const void *data, size_t len);
void rn_sha256_final(rn_sha256_ctx *c, unsigned char out[32]);
/* Lowercase hex of a finished digest of `n` bytes; out has 2n+1 bytes. */
void rn_digest_hex(const unsigned char *digest, size_t n, char *out);

/* Also declared in runnable/plugin.h. */
void rn_sha256_hex(const void *data, size_t len, char out_hex[65]);
int rn_sha256_file(const char *path, char out_hex[65]);

/* SHA-1 as lowercase hex: runnable's dag hash is a SHA-1. */
void rn_sha1_hex(const void *data, size_t len, char out_hex[41]);

#endif
