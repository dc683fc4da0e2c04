/*
 * line_noise.c - see line_noise.h. xorshift32: small, seedable, and good
 * enough to pick bytes to lose.
 */
#include "line_noise.h"

static uint32_t g_ppm;
static uint32_t g_state = 2463534242u;

void twin_noise_init(uint32_t ppm, uint32_t seed)
{
    g_ppm = ppm;
    g_state = (seed != 0u) ? seed : 2463534242u;
}

int twin_noise_active(void)
{
    return g_ppm > 0u;
}

static uint32_t next_random(void)
{
    g_state ^= g_state << 13;
    g_state ^= g_state >> 17;
    g_state ^= g_state << 5;
    return g_state;
}

size_t twin_noise_filter(uint8_t *buf, size_t len)
{
    size_t kept = 0;

    for (size_t i = 0; i < len; i++) {
        if (g_ppm == 0u || (next_random() % 1000000u) >= g_ppm) {
            buf[kept] = buf[i];
            kept++;
        }
    }
    return kept;
}
