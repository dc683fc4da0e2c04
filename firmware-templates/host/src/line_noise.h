/*
 * line_noise.h - a noisy serial line for the twin (--drop-ppm): bytes lost
 * in both directions at a given rate, as a bad cable or a USB bridge under
 * load loses them. The host's CRCs, retries and digests must cope; the
 * soak test (npm run soak) uses it.
 */
#ifndef TWIN_LINE_NOISE_H
#define TWIN_LINE_NOISE_H

#include <stddef.h>
#include <stdint.h>

/* Drops each byte with probability ppm / 1e6; seed makes the losses repeat. 0 ppm = a clean line. */
void twin_noise_init(uint32_t ppm, uint32_t seed);

/* Whether any byte can be dropped. */
int twin_noise_active(void);

/* Removes the dropped bytes from buf in place; returns how many remain. */
size_t twin_noise_filter(uint8_t *buf, size_t len);

#endif
