/* Git code identity of a working directory (run-log spec §3.4), computed
 * with libgit2 so that no `git` process is spawned per attempt. */
#ifndef RN_GITID_H
#define RN_GITID_H

#include <jansson.h>

/*
 * CodeIdentity of the git repository containing `work_dir` (searched
 * upwards, like `git rev-parse --is-inside-work-tree`), as an object with
 * the keys, in this order:
 *   code_identifier            HEAD's commit id
 *   code_identifier_type       "git"
 *   code_identifier_dependable true iff no tracked file has unstaged
 *                              modifications (`git diff --name-only` empty)
 *   code_identifier_url        remote.origin.url
 *   code_identifier_message    "changes found in a, b" when dirty, else ""
 * Like runnable, the fields are filled in that order and filling stops at
 * the first one that cannot be computed, the rest keeping their defaults
 * ("" / false): a repository without commits gives ("", "", false, "", ""),
 * one without `origin` gives url "" and message "" even when dirty.
 *
 * Not inside a (non-bare) repository: returns 0 with *out = NULL -- the
 * identity is absent, which is not an error.  Otherwise 0 and *out is a new
 * reference, or a negative RN_E* code (out of memory) with *out = NULL.
 *
 * This one is cached: the first call for a given `work_dir` string computes
 * the identity, later calls in the same process return a new reference to
 * that same object.  The working tree is assumed not to change while the
 * engine runs.  (runnable recomputes it for every step, so a task that
 * edits tracked files would flip `dependable` for later steps there; here
 * every step reports the state at the start of the run, which is what the
 * identity is meant to pin.)  The object is shared: treat it as read-only
 * and json_deep_copy() it before changing it.  Thread-safe.
 */
int rn_code_identity_git(const char *work_dir, json_t **out);

/* Same result, always computed afresh and never cached; the returned
 * object belongs to the caller alone. */
int rn_code_identity_git_fresh(const char *work_dir, json_t **out);

/* Forget every cached identity (tests; a long-lived embedder whose
 * working tree changed between runs). */
void rn_gitid_cache_clear(void);

#endif
