/*
 * The program's heap in transparent huge pages.
 *
 * Why: a fresh 4 kB page costs a page fault at first touch, and on the
 * virtual machines pods, Slurm nodes and CI run on a fault costs 10-25 us.
 * Rendering a 1,000-step pipeline to Argo builds two JSON trees (the
 * pipeline's and the manifest's, 7.5 MB at the peak) and took 2,060
 * faults, most of its time; a node process on a 1,000-step run holds the
 * layout of the run log (~240 bytes a step) and took 70 faults for its
 * heap.  One 2 MB page costs one fault (150-300 us here, zeroing
 * included).  glibc does this itself only when told from the environment
 * at start (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), which a program cannot
 * set for itself, and not from the heap's first byte.  So the program
 * does it, first thing in main, before malloc has a heap:
 *
 *   - the break is moved so that the heap starts FIRST_SMALL bytes below
 *     a 2 MB boundary: what a small command (--version, a usage error)
 *     allocates stays in those normal pages;
 *   - M_TOP_PAD makes malloc take 32 MB of address space at once, so the
 *     heap is one mapping (later extensions would be mappings without the
 *     advice, which do not merge with it);
 *   - MADV_HUGEPAGE on the part after the boundary lets the kernel back
 *     it with 2 MB pages when THP is `always` or `madvise`.
 *
 * The 32 MB are address space, not memory: pages are backed when touched.
 * The cost is resident memory rounded up to 2 MB, and memory freed at the
 * top of the heap is kept for reuse up to the pad instead of given back
 * past 128 kB (what a limit sees is the peak either way).  Nothing changes when
 * RUNNABLE_HUGE_PAGES is 0 (for hosts where THP faults stall on
 * compaction; the kernel's `defrag` setting decides that), when THP is
 * `never`, when malloc already has a heap (an LD_PRELOADed library
 * allocated first) or is not glibc's (sanitizers, valgrind), or when the
 * break cannot move (a data limit).  Process policy, so it lives in the
 * program, not in librunnable.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#if defined(__GLIBC__) && defined(__linux__)
#if __GLIBC_PREREQ(2, 33)
#define RN_HUGE_HEAP 1
#endif
#endif

#ifdef RN_HUGE_HEAP
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define TOP_PAD (32 << 20)
#define FIRST_SMALL ((uintptr_t)16 << 10)

void rn_cli_heap_setup(void)
{
    const char *knob = getenv("RUNNABLE_HUGE_PAGES");
    if ((knob && !strcmp(knob, "0")) || mallinfo2().arena != 0 ||
        mallopt(M_TOP_PAD, TOP_PAD) != 1)
        return;
    char *cur = sbrk(0);
    if (cur == (void *)-1)
        return;
    uintptr_t boundary = ((uintptr_t)cur + FIRST_SMALL + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (sbrk((intptr_t)(boundary - FIRST_SMALL - (uintptr_t)cur)) == (void *)-1)
        return;
    /* malloc's first request starts its heap at the break, taking the pad
     * with it; all it writes (its per-thread cache, this block, the top's
     * header) is in the first page. */
    void *p = malloc(16);
    char *end = sbrk(0);
    uintptr_t to = (uintptr_t)end & ~(HUGE_PAGE - 1);
    if (p && (uintptr_t)p >= boundary - FIRST_SMALL && (uintptr_t)p < boundary && boundary < to)
        (void)madvise((void *)boundary, to - boundary, MADV_HUGEPAGE);
    free(p);
}
#else
void rn_cli_heap_setup(void)
{
}
#endif
