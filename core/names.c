/* Default run ids: "<adjective>-<scientist>-<HHMM>", easy to say aloud and
 * to tell apart in a listing, like runnable's generated names. */

#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "runid.h"
#include "runnable/plugin.h"

static const char *const adjectives[] = {
    "able", "agile", "amber", "ample", "ancient", "arctic", "azure", "balmy", "bold",
    "brave", "breezy", "bright", "brisk", "busy", "calm", "candid", "careful", "cheerful",
    "chilly", "civil", "clever", "cosmic", "cozy", "crisp", "curious", "daring", "dapper",
    "deep", "eager", "early", "earnest", "easy", "electric", "elegant", "epic", "fair",
    "famous", "fancy", "fearless", "fluffy", "frank", "fresh", "friendly", "frosty",
    "gentle", "giant", "glad", "golden", "graceful", "grand", "happy", "hardy", "hasty",
    "hidden", "honest", "humble", "icy", "jolly", "keen", "kind", "lively", "lucid",
    "lucky", "mellow", "merry", "mighty", "modest", "narrow", "neat", "nimble", "noble",
    "patient", "plucky", "polite", "proud", "quick", "quiet", "rapid", "rare", "ready",
    "robust", "rosy", "rustic", "serene", "sharp", "shiny", "silent", "silver", "simple",
    "sleepy", "smooth", "snowy", "solid", "spry", "steady", "stellar", "sunny", "swift",
    "tidy", "tranquil", "vivid", "warm", "wise", "witty", "young", "zesty",
};

static const char *const scientists[] = {
    "agnesi", "archimedes", "avogadro", "babbage", "bardeen", "bohr", "boltzmann",
    "boyle", "carson", "cavendish", "curie", "darwin", "dirac", "einstein", "euclid",
    "euler", "faraday", "fermi", "feynman", "franklin", "galileo", "gauss", "goodall",
    "hawking", "heisenberg", "hertz", "hopper", "hubble", "huygens", "joule", "kelvin",
    "kepler", "lamarr", "laplace", "lavoisier", "leavitt", "lovelace", "maxwell",
    "meitner", "mendel", "mendeleev", "newton", "noether", "ohm", "pascal", "pasteur",
    "pauli", "planck", "ramanujan", "raman", "rutherford", "sagan", "salk", "schrodinger",
    "tesla", "turing", "volta", "watt", "wegener", "yalow",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t random_u32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    /* Before the kernel's pool is ready (early boot, odd containers):
     * the names need variety, not secrecy. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    static _Thread_local uint32_t counter;
    return (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid() * 40503u ^ ++counter * 97u;
}

/* Uniform in [0, n): reject the top slice that would favour small values. */
static size_t pick(size_t n)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % (uint32_t)n;
    uint32_t r;
    do
        r = random_u32();
    while (r >= limit);
    return r % n;
}

int rn_run_id_generate(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return rn_error_set(RN_EIO, "cannot read the local time");
    const char *adj = adjectives[pick(COUNT(adjectives))];
    const char *sci = scientists[pick(COUNT(scientists))];
    int len = snprintf(out, n, "%s-%s-%02d%02d", adj, sci, tm.tm_hour, tm.tm_min);
    if (len < 0 || (size_t)len >= n) {
        if (n)
            out[0] = '\0';
        return rn_error_set(RN_EINVAL, "run id buffer too small (%zu bytes)", n);
    }
    return 0;
}
