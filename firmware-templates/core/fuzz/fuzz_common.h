/* Shared bits of the libFuzzer targets: a check that aborts (so libFuzzer
 * reports it as a crash with a stack) and an FNV-1a hash used to compare
 * event streams. */
#ifndef PROV_FUZZ_COMMON_H
#define PROV_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static inline uint64_t fuzz_hash(uint64_t h, const void *p_data, size_t len)
{
    const uint8_t *p = p_data;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

#define FUZZ_HASH_INIT 14695981039346656037ull

#endif
