/*
 * The scheduler's moving parts, shared by sched.c (the event loop, task
 * processes, timers, signals), frame.c (one graph running in one scope)
 * and composite.c (fan-out and fan-in of parallel, map, conditional and
 * loop steps).
 *
 * Everything runs in the engine process on one thread.  Completions are
 * queued as events and handled by the loop, never by nested calls, so the
 * C stack stays flat however many branches end at once and however deep
 * composites nest.
 */
#ifndef RN_SCHED_H
#define RN_SCHED_H

#include "engine.h"

typedef struct rn_sched rn_sched;
typedef struct rn_frame rn_frame;
typedef struct rn_comp rn_comp;

/* One graph (the root or a branch) running in one scope. */
struct rn_frame {
    rn_sched *s;
    rn_graph *g;
    rn_scope scope;
    rn_comp *parent;           /* composite owning this branch; NULL: root */
    int done, success;
    int running;               /* steps of this graph in flight */
    int failed;                /* a failure that fails the graph (DAG) */
    int stopping;              /* stop_on_first_failure was triggered here */
    int single;                /* runs one step, then ends (node protocol) */
    /* depends_on graphs */
    unsigned char *state;      /* per node: see frame.c */
    unsigned *waiting;         /* dependencies not yet met, per node */
    size_t *dep_start, *deps;  /* dependents of node i: deps[dep_start[i]..] */
    size_t *ready;             /* FIFO of node indices ready to start */
    size_t ready_head, ready_tail;
    char first_failure[256];
};

/* A composite step between fan-out and fan-in. */
struct rn_comp {
    rn_sched *s;
    rn_frame *frame;           /* graph holding the composite step */
    rn_node *node;
    char *internal_name;
    json_t *step;              /* its StepLog (borrowed) */
    char **names;              /* branch names, in order */
    rn_graph **graphs;         /* graph of each branch */
    json_t *items;             /* map: the list iterated on */
    size_t n, next;            /* branches in all, next to start */
    int active, ok, failed;    /* branches running, succeeded, failed */
    int limit;                 /* branches running at once */
    int loop_done;             /* loop: no further iteration */
    json_t *carry;             /* loop: the last iteration's parameters */
    int success;               /* outcome, set at fan-in */
    double started;            /* monotonic seconds (progress events) */
    char msg[1024];            /* why the step failed by itself */
};

typedef enum { RN_EV_LEAF, RN_EV_COMP, RN_EV_FRAME } rn_ev_kind;

typedef struct rn_ev {
    rn_ev_kind kind;
    void *what;
    struct rn_ev *next;
} rn_ev;

struct rn_sched {
    rn_engine *e;
    int parallel;              /* enable_parallel */
    int slots;                 /* task processes at once */
    double kill_grace;
    rn_leaf **running;         /* task processes alive */
    size_t n_running, cap_running;
    rn_leaf *ready_head, *ready_tail;   /* tasks waiting for a slot */
    rn_leaf *sleepers;         /* tasks waiting out a retry delay */
    rn_ev *ev_head, *ev_tail;
    rn_frame *root;
    int hard_rc;               /* first hard error; the run is stopped */
    char hard_msg[1024];
    int interrupted;           /* signal that stopped the run */
    int use_pidfd;
    int mock;                  /* a test run (runnable's mocked executor) */
    const json_t *patches;     /* its patches: step name -> task fields */
    double next_tick;          /* when the next RN_EVENT_TICK is due, 0: none */
    /* batch jobs (rn_traverse_opts v5): leaves in `running` with l->job */
    int (*node_poll)(void *, const char *const *, size_t, rn_job_state *);
    int (*node_cancel)(void *, const char *const *, size_t);
    void *node_data;
    size_t n_jobs;             /* of n_running, how many are jobs */
    double poll_interval;
    double next_poll;          /* when the jobs are polled next, 0: none */
};

/* The run is being stopped (signal or hard error): start nothing new. */
static inline int rn_sched_halting(const rn_sched *s)
{
    return s->interrupted || s->hard_rc;
}

/* sched.c */
void rn_sched_post(rn_sched *s, rn_ev_kind kind, void *what);
/* Record a hard error (keeps the first) and stop the run. */
void rn_sched_fail(rn_sched *s, int rc);
/* Run a leaf step: tasks queue for a slot, other leaves end at once. */
void rn_sched_leaf(rn_sched *s, rn_frame *f, rn_node *node);
/* Progress event to the engine's subscriber, with the running count. */
void rn_sched_emit(rn_sched *s, rn_event *ev);

/* frame.c */
rn_frame *rn_frame_new(rn_sched *s, rn_graph *g, rn_comp *parent);
void rn_frame_free(rn_frame *f);
void rn_frame_start(rn_frame *f);
/* Run only `node` of f's graph; f ends with that step's outcome. */
void rn_frame_run_one(rn_frame *f, rn_node *node);
/* A step of f ended (leaf or composite); `ok` is its outcome. */
void rn_frame_step_done(rn_frame *f, rn_node *node, int ok);
/* Resolved internal name of a node of f's graph (malloc'd). */
char *rn_frame_step_name(const rn_frame *f, const rn_node *node);
/* A failure in f: every enclosing graph with stop_on_first_failure stops
 * starting new work. */
void rn_frame_note_failure(rn_frame *f, const char *what);
/* f or an enclosing graph has stopped starting new work. */
int rn_frame_stopping(const rn_frame *f);

/* composite.c */
void rn_comp_start(rn_sched *s, rn_frame *f, rn_node *node);
void rn_comp_branch_done(rn_comp *c, rn_frame *branch);
void rn_comp_free(rn_comp *c);
/* The node protocol's `fan out` / `fan in` of composite `node` in `scope`
 * (no scheduler: branches are run by other processes).  Step and branch
 * logs are stored; *ok gets the outcome; out: *value the JSON text the
 * orchestrator needs (malloc'd). */
int rn_comp_fan(rn_engine *e, rn_scope *scope, rn_node *node, int out, int *ok, char **value);

#endif
