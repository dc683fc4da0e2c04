/*
 * Credential store: the committed credential set (the exact
 * WRITE_CREDENTIALS payload bytes, a TLV blob), a staging area, a generation
 * counter and the LOCK flag. ESP-IDF: NVS blobs (two slots + an index, or a
 * scratch key and one commit); twin: files replaced by rename.
 *
 * Every function returns a prov_storage_status_t (0 = PROV_STORAGE_OK).
 */
#ifndef PROV_CREDSTORE_H
#define PROV_CREDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "prov/storage_status.h"

typedef struct prov_credstore {
    void *ctx;

    /*
     * Keep payload as the staged set, replacing any staged one. Staging may
     * be RAM: it never survives a restart. Returns OK, TOO_LARGE, IO.
     */
    int (*stage)(void *ctx, const uint8_t *payload, size_t len);

    /* Drop the staged set. Returns OK (also when nothing was staged). */
    int (*discard_staged)(void *ctx);

    /*
     * Make the staged set the committed one, atomically (write new, sync,
     * switch): a power loss at any moment leaves the old or the new set,
     * never a mix. *generation = previous generation + 1 (1 for the first
     * commit). Staging is empty afterwards. Returns PROV_STORAGE_OK, _NOT_FOUND (nothing
     * staged), IO.
     */
    int (*commit)(void *ctx, uint32_t *generation);

    /*
     * Copy the committed payload to buf[0..*len) and its generation. Returns
     * PROV_STORAGE_OK, _NOT_FOUND (nothing committed), TOO_LARGE (size too small), IO
     * (unreadable or corrupt: the store verifies its own checksum).
     */
    int (*read_committed)(void *ctx, uint8_t *buf, size_t size, size_t *len, uint32_t *generation);

    /* Erase committed set, staging and LOCK flag. Returns OK or IO. */
    int (*erase)(void *ctx);

    /* Persist the LOCK flag. Returns OK or IO. */
    int (*set_locked)(void *ctx);

    /* Returns 1 when locked, 0 when not, a negative status on failure. */
    int (*is_locked)(void *ctx);
} prov_credstore_t;

#endif /* PROV_CREDSTORE_H */
