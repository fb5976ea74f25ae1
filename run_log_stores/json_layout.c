/*
 * The layout cache's file format (see json_layout.h):
 *
 *   "RNLAYOUT"  u32 version  u32 byte-order marker
 *   u64 ×7      the document's st_dev, st_ino, st_size, mtime s/ns, ctime s/ns
 *   u32 has_shadow  u64 ×7 the shadow's, the same way (zeros: none)
 *   u32 root_kind, nested   u64 start, end, rc_from, rc_to
 *   root name   u64 records
 *   records:    name, varint kind, slot_w, nkids, len[6]
 *   (a name:    varint length + 1, 0 for none, then its bytes)
 *   u64 checksum of everything before it
 *
 * Fixed-size integers are in host order (the marker says which): a cache
 * is read by the machine that wrote it, or by one sharing its volume, and
 * one of the other byte order just ignores it.  Records are varints
 * (LEB128: 7 bits a byte, low first): most lengths are a step's few
 * hundred bytes, and a 1,000-step run's cache is then 16 kB instead of
 * 70, four pages to write and read instead of seventeen, each page costly
 * on a virtual machine.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_docfile.h"
#include "json_layout.h"

#define MAGIC "RNLAYOUT"
#define LAY_VERSION 2u
#define ORDER 0x01020304u

char *rn_lay_path(const char *doc_path)
{
    return rn_df_hidden_path(doc_path, ".layout");
}

/* Word-at-a-time: the check runs on every open of a large run's file. */
static uint64_t checksum(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

/* ---- writing ---- */

static int put32(rn_buf *b, uint32_t v)
{
    return rn_buf_append(b, (const char *)&v, sizeof v);
}

static int put64(rn_buf *b, uint64_t v)
{
    return rn_buf_append(b, (const char *)&v, sizeof v);
}

static char *put_var(char *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        *p++ = (char)(v | 0x80);
    *p++ = (char)v;
    return p;
}

static int put_name(rn_buf *b, const char *s, uint32_t len)
{
    char n[10];
    int rc = rn_buf_append(b, n, (size_t)(put_var(n, s ? (uint64_t)len + 1 : 0) - n));
    return rc || !s ? rc : rn_buf_append(b, s, len);
}

void rn_lay_identity(const struct stat *st, uint64_t id[7])
{
    id[0] = (uint64_t)st->st_dev;
    id[1] = (uint64_t)st->st_ino;
    id[2] = (uint64_t)st->st_size;
    id[3] = (uint64_t)st->st_mtim.tv_sec;
    id[4] = (uint64_t)st->st_mtim.tv_nsec;
    id[5] = (uint64_t)st->st_ctim.tv_sec;
    id[6] = (uint64_t)st->st_ctim.tv_nsec;
}

int rn_lay_begin(rn_lay_writer *w, const struct stat *doc, const rn_lay_head *h)
{
    memset(w, 0, sizeof *w);
    uint64_t id[7];
    rn_lay_identity(doc, id);
    /* Room for a typical record per node at once: growing by doubling
     * would touch every page twice. */
    size_t want = 256 + h->root_name_len + (h->nnodes < SIZE_MAX / 64 ? h->nnodes * 24 : 0);
    if ((w->buf.data = malloc(want)) != NULL)
        w->buf.cap = want;
    int rc = rn_buf_append(&w->buf, MAGIC, 8);
    if (!rc)
        rc = put32(&w->buf, LAY_VERSION);
    if (!rc)
        rc = put32(&w->buf, ORDER);
    for (int i = 0; i < 7 && !rc; i++)
        rc = put64(&w->buf, id[i]);
    if (!rc)
        rc = put32(&w->buf, h->has_shadow != 0);
    for (int i = 0; i < 7 && !rc; i++)
        rc = put64(&w->buf, h->has_shadow ? h->shadow_id[i] : 0);
    if (!rc)
        rc = put32(&w->buf, h->root_kind);
    if (!rc)
        rc = put32(&w->buf, h->nested);
    if (!rc)
        rc = put64(&w->buf, h->start);
    if (!rc)
        rc = put64(&w->buf, h->end);
    if (!rc)
        rc = put64(&w->buf, h->rc_from);
    if (!rc)
        rc = put64(&w->buf, h->rc_to);
    if (!rc)
        rc = put_name(&w->buf, h->root_name, h->root_name_len);
    if (!rc)
        rc = put64(&w->buf, h->nnodes);
    if (rc)
        rn_lay_abandon(w);
    return rc;
}

int rn_lay_add(rn_lay_writer *w, const rn_lay_node *node)
{
    /* Nine varints of at most ten bytes each. */
    char rec[90], *p;
    int rc = put_name(&w->buf, node->name, node->name_len);
    p = put_var(rec, node->kind);
    p = put_var(p, node->slot_w);
    p = put_var(p, node->nkids);
    for (int i = 0; i < 6; i++)
        p = put_var(p, node->len[i]);
    if (!rc)
        rc = rn_buf_append(&w->buf, rec, (size_t)(p - rec));
    return rc;
}

void rn_lay_abandon(rn_lay_writer *w)
{
    rn_buf_free(&w->buf);
}

/* Written over the old cache in place: a new file and a rename would
 * allocate an inode and free one per process, which on ext4 slows down
 * every later allocation in the folder (json_docfile.h, spares).  A
 * reader meeting a cache half written (or two writers' bytes mixed)
 * finds the checksum wrong and scans the document instead. */
int rn_lay_commit(rn_lay_writer *w, const char *doc_path)
{
    char *path = rn_lay_path(doc_path);
    int rc = path ? 0 : RN_ENOMEM;
    if (!rc)
        rc = put64(&w->buf, checksum(w->buf.data, w->buf.len));
    if (!rc) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = RN_EIO;
        } else {
            if (rn_df_pwrite_all(fd, w->buf.data, w->buf.len, 0) ||
                ftruncate(fd, (off_t)w->buf.len) != 0)
                rc = RN_EIO;
            if (close(fd) != 0)
                rc = RN_EIO;
        }
    }
    free(path);
    rn_lay_abandon(w);
    return rc;
}

/* ---- reading ---- */

static int get(rn_lay_reader *r, void *out, size_t n)
{
    if (r->len - r->at < n)
        return 1;
    memcpy(out, r->data + r->at, n);
    r->at += n;
    return 0;
}

static int get32(rn_lay_reader *r, uint32_t *v)
{
    return get(r, v, sizeof *v);
}

static int get64(rn_lay_reader *r, uint64_t *v)
{
    return get(r, v, sizeof *v);
}

static int get_var(rn_lay_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && r->at < r->len; shift += 7) {
        unsigned char b = (unsigned char)r->data[r->at++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return 1;
}

static int get_var32(rn_lay_reader *r, uint32_t *v)
{
    uint64_t x;
    if (get_var(r, &x) || x > UINT32_MAX)
        return 1;
    *v = (uint32_t)x;
    return 0;
}

/* A name: NULL for none; else its bytes, which must hold no NUL.  It is
 * terminated in place, over the first byte of the field after it, which
 * the caller reads before it calls name_end (the buffer has a NUL at its
 * end for a name that is last). */
static int get_name(rn_lay_reader *r, const char **s, uint32_t *len, char **nul_at)
{
    uint64_t n;
    *s = NULL;
    *len = 0;
    *nul_at = NULL;
    if (get_var(r, &n) || n > UINT32_MAX)
        return 1;
    if (!n)
        return 0;
    *len = (uint32_t)(n - 1);
    if (r->len - r->at < *len || memchr(r->data + r->at, '\0', *len))
        return 1;
    *s = r->data + r->at;
    r->at += *len;
    *nul_at = r->data + r->at;
    return 0;
}

static void name_end(char *nul_at)
{
    if (nul_at)
        *nul_at = '\0';
}

int rn_lay_open(rn_lay_reader *r, const char *doc_path, const struct stat *doc, rn_lay_head *h)
{
    memset(r, 0, sizeof *r);
    memset(h, 0, sizeof *h);
    char *path = rn_lay_path(doc_path);
    if (!path)
        return RN_ENOMEM;
    /* NUL-terminated, which get_name relies on.  No cache (or none
     * readable) is not an error. */
    int rc = rn_read_file(path, &r->data, &r->len);
    free(path);
    if (rc)
        return rc == RN_ENOMEM ? rc : 1;
    uint64_t sum, id[7], want[7];
    uint32_t version = 0, order = 0;
    char *nul_at = NULL;
    rn_lay_identity(doc, want);
    rc = r->len < 8 + 8 || memcmp(r->data, MAGIC, 8) != 0;
    if (!rc) {
        /* The checksum first: nothing of a damaged cache is looked at. */
        r->len -= 8;
        memcpy(&sum, r->data + r->len, 8);
        rc = sum != checksum(r->data, r->len);
    }
    r->at = 8;
    if (!rc)
        rc = get32(r, &version) || get32(r, &order) || version != LAY_VERSION || order != ORDER;
    for (int i = 0; i < 7 && !rc; i++)
        rc = get64(r, &id[i]) || id[i] != want[i];
    if (!rc)
        rc = get32(r, &h->has_shadow);
    for (int i = 0; i < 7 && !rc; i++)
        rc = get64(r, &h->shadow_id[i]);
    if (!rc)
        rc = get32(r, &h->root_kind) || get32(r, &h->nested) || get64(r, &h->start) ||
             get64(r, &h->end) || get64(r, &h->rc_from) || get64(r, &h->rc_to) ||
             get_name(r, &h->root_name, &h->root_name_len, &nul_at) || get64(r, &h->nnodes);
    if (rc) {
        rn_lay_close(r);
        return 1;
    }
    name_end(nul_at);
    r->left = h->nnodes;
    return 0;
}

int rn_lay_next(rn_lay_reader *r, rn_lay_node *node)
{
    char *nul_at;
    if (!r->left || get_name(r, &node->name, &node->name_len, &nul_at) ||
        get_var32(r, &node->kind) || get_var32(r, &node->slot_w) || get_var32(r, &node->nkids))
        return 1;
    for (int i = 0; i < 6; i++)
        if (get_var(r, &node->len[i]))
            return 1;
    name_end(nul_at);
    r->left--;
    return 0;
}

void rn_lay_close(rn_lay_reader *r)
{
    free(r->data);
    memset(r, 0, sizeof *r);
}
