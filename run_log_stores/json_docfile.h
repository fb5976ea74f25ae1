/*
 * One run-log JSON file (a RunLog or a BranchLog document) written
 * incrementally: each step and branch is serialised on its own, so putting
 * a step costs O(size of that step + what follows it in the file, up to
 * the room kept in front of large closing members), not O(size of the
 * whole file).  Memory holds the shape of the document (its
 * nodes, with the offset and length of each one's text in the file), not
 * its contents: those are read back from the file when needed.
 *
 * Shared by the file-system store (one nested document per run) and the
 * chunked-fs store (RunLog.json plus one BranchLog file per branch).
 * docs/run-log-layout.md describes the bytes on disk and why they are
 * arranged the way they are.
 *
 * Not exported from the plugin (the module exports only its descriptor).
 */
#ifndef RN_JSON_DOCFILE_H
#define RN_JSON_DOCFILE_H

#include <jansson.h>

/* What a node of the document is; fixes its key order and the name of the
 * member that holds its children (steps -> "steps", step -> "branches"). */
typedef enum rn_df_kind {
    RN_DF_RUN = 0,    /* RunLog: children are steps */
    RN_DF_STEP = 1,   /* StepLog: children are branches */
    RN_DF_BRANCH = 2  /* BranchLog: children are steps */
} rn_df_kind;

typedef struct rn_docfile rn_docfile;

/*
 * A document whose root is of `root_kind` (RN_DF_RUN or RN_DF_BRANCH),
 * stored at `path`.  `nested` = 1 keeps grandchildren (the file-system
 * layout: steps hold their branches); 0 keeps one level (chunked-fs: every
 * step is written with "branches": {}).  Touches nothing on disk.
 */
int rn_docfile_new(rn_docfile **out, const char *path, rn_df_kind root_kind, int nested,
                   int fsync_it);
/* Frees the memory; removes this process's shadow file (see the .c). */
void rn_docfile_free(rn_docfile *df);

const char *rn_docfile_path(const rn_docfile *df);

/* Replace memory with the file on disk (any valid JSON layout; one in
 * this writer's own layout is taken as it is, anything else is rewritten
 * whole by the next flush).  RN_ENOENT if the file does not exist,
 * RN_EINVAL if it is not a document of the expected shape. */
int rn_docfile_load(rn_docfile *df);

/* Re-read the file if another process replaced or rewrote it since this
 * one last read or wrote it (an executor's container, a pod, a retry), or
 * if a failed write left it unknown.  Call before changing the document.
 * *reloaded (may be NULL) says so.  A file this process had written that
 * was removed since is an error (RN_EIO): its contents are not in memory. */
int rn_docfile_refresh(rn_docfile *df, int *reloaded);

/* Replace the root's own members (everything but its children member).
 * `obj` is only read during the call, except that the run_config object
 * of a RunLog is held: handing over the same object again means it is
 * unchanged (it is not serialised again), and a RunLog without one keeps
 * the run_config it has. */
int rn_docfile_set_root(rn_docfile *df, const json_t *obj);

/*
 * Insert or replace the node `name` of `kind` (its own members only: the
 * children member of `obj` is ignored, existing children are kept) under
 * the node `parent` (NULL: the root).  RN_ENOENT when the parent does not
 * exist or is not of the kind that holds `kind`.
 */
int rn_docfile_put(rn_docfile *df, const char *parent, rn_df_kind kind, const char *name,
                   const json_t *obj);

/* 1 if the last load read where the nodes lie from the file's layout
 * cache (json_layout.h) instead of scanning the file. */
int rn_docfile_loaded_from_cache(const rn_docfile *df);

/* The root's "internal_name" as last loaded or set (NULL if none). */
const char *rn_docfile_root_name(const rn_docfile *df);

/* 1 if a node `name` of `kind` exists. */
int rn_docfile_has(const rn_docfile *df, const char *name, rn_df_kind kind);

/* The whole document as a new JSON value, read back from the file (and
 * from memory for what is not written yet). */
int rn_docfile_json(json_t **out, rn_docfile *df);

/* One node's own members as a new JSON value, its children member {}:
 * the node `name` of `kind`, or the root when `name` is NULL (`kind` is
 * then the root's; a RunLog root comes without run_config).  Reads only
 * that node's text.  RN_ENOENT when there is no such node. */
int rn_docfile_node_json(json_t **out, rn_docfile *df, const char *name, rn_df_kind kind);

/*
 * Spare files, so that a store writing many small files allocates (and
 * frees) as few inodes as it can: on ext4 every allocation walks past the
 * group's recently freed inodes, so deleting thousands of shadows makes
 * creating the next thousands of files slow.  A spare is a hidden file in
 * the same folder, under a name no document uses.
 *
 * rn_docfile_has_shadow: 1 if this process's shadow of the file exists.
 * rn_docfile_give_shadow: the shadow becomes a spare: returns its path
 *   (malloc'd; renamed to `spare_name` if it had the document's own
 *   shadow name), or NULL when there was none.  Takes `spare_name`.
 * rn_docfile_take_spare: the spare at `path` becomes the shadow's file,
 *   written over by the next flush instead of a new file (then exchanged
 *   with the visible file, or renamed to it for a first version).  0:
 *   `path` (malloc'd) is taken; 1: refused (the file has a shadow, or
 *   cannot exchange names), `path` stays the caller's.
 */
int rn_docfile_has_shadow(const rn_docfile *df);
char *rn_docfile_give_shadow(rn_docfile *df, char *spare_name);
int rn_docfile_take_spare(rn_docfile *df, char *path);

/* Patch the visible file in place instead of exchanging it with its
 * shadow: what happens by itself on file systems that cannot exchange
 * names; set by hand only to test that path. */
void rn_docfile_use_in_place(rn_docfile *df);

/* Write what changed since the last flush.  The file is valid JSON at
 * every instant, whatever happens to the process.  On failure nothing is
 * lost from memory: the next flush writes it again. */
int rn_docfile_flush(rn_docfile *df);

/* Leave no more room for growth: the spaces kept between the root's
 * children and its large closing members while a run is written (see the
 * .c) are removed, so the file is json.dumps' text again (but for the
 * status padding).  Call when the run is closed. */
int rn_docfile_finish(rn_docfile *df);

/* ---- writers taking turns ---- */

/*
 * Several processes write one run when steps run in processes of their
 * own (execute-single-node under the emulator, containers, Slurm, Argo):
 * two of them putting root steps both rewrite RunLog.json.  A put is a
 * read-modify-write of a file (refresh, change, replace), and a file being
 * read may become its writer's shadow and be written over, so writers and
 * readers take turns: an exclusive flock(2) on a folder, held from
 * rn_df_turn_take() to rn_df_turn_give().  Within one process turns on
 * the same folder share one lock and never wait for each other (two
 * store instances of one process would otherwise deadlock); the folder is
 * open close-on-exec, so task processes never hold it.  flock works on
 * NFSv4 and on the local file systems containers and pods mount.
 */
typedef struct rn_df_turn rn_df_turn;
int rn_df_turn_take(const char *dir, rn_df_turn **out);
void rn_df_turn_give(rn_df_turn *turn);

/* ---- naming helpers shared by the stores ---- */

/* The name minus its last dot segment (a step's branch, a branch's step),
 * malloc'd; NULL with *err = 0 for a one-segment name. */
char *rn_df_parent_name(const char *name, int *err);
/* The hidden twin of the file at `path`: ".<file name><suffix>" in the
 * same folder (a dot name: not matched by "*.json" or "BranchLog-*"
 * listings, runnable's included); malloc'd, NULL when out of memory. */
char *rn_df_hidden_path(const char *path, const char *suffix);
/* Write all `len` bytes at `off`, again after EINTR and short writes;
 * 0, or -1 with errno. */
int rn_df_pwrite_all(int fd, const char *p, size_t len, size_t off);
/* A run id usable as a file or folder name (no '/', not "." or ".."). */
int rn_df_check_run_id(const char *run_id);
/* `path` taken relative to the engine's working directory. */
char *rn_df_resolve(const char *work_dir, const char *path);
/* The internal name of a step or branch log, checked. */
int rn_df_internal_name(const json_t *log, const char *what, const char **out);

#endif
