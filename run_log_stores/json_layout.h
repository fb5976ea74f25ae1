/*
 * The layout cache of a run-log file: where every node's parts lie in
 * `<folder>/.<file name>.layout`, written by a process that ends with
 * memory and the file in step, so that the next process opening the file
 * (a pod, a Slurm job: one step of a large run) reads a few kilobytes
 * instead of scanning the whole document.  json_docfile.c turns its tree
 * into records and back; this file holds the file format and the checks
 * that make a cache safe to trust:
 *
 *   - it names the document file it describes (device, inode, size,
 *     modification and change times, as stat(2) gives them): any other
 *     writer's change (a rename, an in-place rewrite, a touch) changes
 *     one of them, and a stale cache is then ignored;
 *   - a checksum over the whole cache, so a cache cut short, half
 *     written (it is rewritten in place, see rn_lay_commit) or garbled
 *     by a power loss is ignored too.
 *
 * It may also name the document's shadow (json_docfile.c) when the writer
 * left it equal to the document, by the same stat(2) fields: the next
 * process then writes its first change into the shadow incrementally
 * instead of copying the whole document there first.
 *
 * A cache is never needed: without one (or with a wrong one) the document
 * is scanned as before.  Its bytes are in host order, with a marker that
 * makes a cache written by a machine of the other byte order ignored.
 *
 * Not exported from the plugin.
 */
#ifndef RN_JSON_LAYOUT_H
#define RN_JSON_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "runnable/plugin.h"

/* One node, in pre-order (a node, then its kids' records). */
typedef struct rn_lay_node {
    const char *name;   /* NULL for the root; else NUL-terminated */
    uint32_t name_len;
    uint32_t nkids;
    uint32_t slot_w;
    uint32_t kind;
    uint64_t len[6];    /* the parts' lengths, in json_docfile.c's order */
} rn_lay_node;

/* What the cache says of the document as a whole. */
typedef struct rn_lay_head {
    uint32_t root_kind, nested;
    uint64_t start;     /* where the root's text starts */
    uint64_t end;       /* where the document's text ends */
    uint64_t rc_from, rc_to;
    const char *root_name; /* NULL: none */
    uint32_t root_name_len;
    uint64_t nnodes;
    /* The shadow, equal to the document up to `end` (rn_lay_identity of
     * its stat); has_shadow 0: none named. */
    uint32_t has_shadow;
    uint64_t shadow_id[7];
} rn_lay_head;

/* The fields of stat(2) that any change to a file changes: device, inode,
 * size, modification and change times. */
void rn_lay_identity(const struct stat *st, uint64_t id[7]);

/* The cache's path for a document at `doc_path` (malloc'd; NULL: OOM). */
char *rn_lay_path(const char *doc_path);

/* ---- writing: begin, add every node, commit ---- */
typedef struct rn_lay_writer {
    rn_buf buf;
} rn_lay_writer;

int rn_lay_begin(rn_lay_writer *w, const struct stat *doc, const rn_lay_head *h);
int rn_lay_add(rn_lay_writer *w, const rn_lay_node *node);
/* Writes the cache (over the old one) and frees the writer, whatever
 * happens. */
int rn_lay_commit(rn_lay_writer *w, const char *doc_path);
void rn_lay_abandon(rn_lay_writer *w);

/* ---- reading ---- */
typedef struct rn_lay_reader {
    char *data;
    size_t len, at;
    uint64_t left;      /* records not read yet */
} rn_lay_reader;

/*
 * The cache of the document at `doc_path` whose stat(2) is `doc`: 0 and
 * *h filled (its strings point into the reader), 1 when there is no
 * usable cache (none, another file's, damaged), < 0 only for a failed
 * allocation.
 */
int rn_lay_open(rn_lay_reader *r, const char *doc_path, const struct stat *doc, rn_lay_head *h);
/* The next record: 0, or 1 when the cache is damaged (or has no more). */
int rn_lay_next(rn_lay_reader *r, rn_lay_node *node);
void rn_lay_close(rn_lay_reader *r);

#endif
