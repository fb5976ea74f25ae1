/*
 * The program's heap in transparent huge pages, where it grows large.
 *
 * Why: a fresh 4 kB page costs a page fault at first touch, and on the
 * virtual machines pods and CI run on a fault costs 10-25 us.  Rendering a
 * 1,000-step pipeline to Argo builds two JSON trees (the pipeline's and
 * the manifest's, 7.5 MB at the peak) and took 2,060 faults, most of its
 * time; in 2 MB pages it takes about 400 and half the time
 * (bench/argo.sh).  glibc does this itself only when told from the
 * environment at start (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), which a
 * program cannot set for itself.  So the program does what that setting
 * does, once, before anything large is allocated:
 *
 *   - M_TOP_PAD makes malloc extend its heap (brk) by 32 MB at once, so
 *     the heap is one mapping instead of one per extension (extensions do
 *     not merge into a mapping with different advice);
 *   - MADV_HUGEPAGE on the 2 MB-aligned part of that mapping lets the
 *     kernel back it with huge pages when THP is `always` or `madvise`.
 *
 * The 32 MB are address space, not memory: pages are backed when touched,
 * and a small process (one pod's node, `--version`) never touches the
 * aligned part.  When THP is `never`, the brk extension fails (a data
 * limit) or malloc is not glibc's (sanitizers, valgrind), nothing changes.
 * This is process policy, so it lives in the program, not in librunnable.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "cli.h"

#if defined(__GLIBC__) && defined(__linux__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define TOP_PAD (32 << 20)
/* Below malloc's mmap threshold (128 kB), so served from the heap. */
#define PROBE_SIZE (96 << 10)

void rn_cli_heap_setup(void)
{
    if (mallopt(M_TOP_PAD, TOP_PAD) != 1)
        return;
    /* Whatever top the heap has now is used up by at most two requests;
     * the one that does not fit extends it by the pad. */
    void *start = sbrk(0), *held[3] = {NULL, NULL, NULL};
    if (start == (void *)-1)
        return;
    for (int i = 0; i < 3 && (char *)sbrk(0) - (char *)start < TOP_PAD / 2; i++)
        if (!(held[i] = malloc(PROBE_SIZE)))
            break;
    char *end = sbrk(0);
    uintptr_t from = ((uintptr_t)start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t to = (uintptr_t)end & ~(HUGE_PAGE - 1);
    /* Only a heap that grew by the pad, as one piece; the blocks must be
     * in it (not a sanitizer's own allocator). */
    if (held[0] && (uintptr_t)held[0] < (uintptr_t)end && end - (char *)start >= TOP_PAD / 2 &&
        from < to)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
    for (int i = 2; i >= 0; i--)
        free(held[i]);
}
#else
void rn_cli_heap_setup(void)
{
}
#endif
