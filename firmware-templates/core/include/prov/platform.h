/*
 * Platform services the core needs: time, randomness, restart, identity.
 */
#ifndef PROV_PLATFORM_H
#define PROV_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct prov_platform {
    void *ctx;

    /* Monotonic milliseconds since boot; may wrap at 2^32 (the core uses differences only). */
    uint32_t (*millis)(void *ctx);

    /*
     * Fill out with len random bytes from a cryptographic RNG. Same shape as
     * mbedTLS's f_rng, so a port can pass mbedtls_ctr_drbg_random. Returns 0
     * or non-zero on failure.
     */
    int (*random)(void *ctx, unsigned char *out, size_t len);

    /*
     * Restart the device after delay_ms. The core has already drained the
     * answer. On a chip this never returns (esp_restart). A host port may
     * return and restart later; the core then ignores input until
     * prov_device_boot() is called again.
     */
    void (*restart)(void *ctx, uint32_t delay_ms);

    /* Identity, NUL-terminated, constant for the life of the device context. */
    const char *device_id;        /* base MAC as 12 lowercase hex digits */
    const char *firmware_version; /* e.g. "1.0.0+twin" */
    const char *board_id;         /* boards/<id>.json */

    /* Baud rates the device can switch to (HELLO 0x09, SET_BAUD). */
    const uint32_t *bauds;
    size_t n_bauds;

    /*
     * The firmware build running (HELLO 0x0A, 0x0B), so that a host about to
     * flash can tell a board that already runs this build: on ESP-IDF the app
     * description's version and the SHA-256 of the ELF it was made from. NULL
     * when the port does not know (the field is left out).
     */
    const char *build_version;
    const uint8_t *build_sha256; /* 32 bytes */
} prov_platform_t;

#endif /* PROV_PLATFORM_H */
