/*
 * file_credstore.c - committed set as one file replaced atomically, so a
 * SIGKILL during COMMIT leaves the old or the new set; the embedded SHA-256
 * catches a file damaged by anything else.
 */
#define _POSIX_C_SOURCE 200809L
#include "file_credstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "prov/crypto.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Read and verify credentials.bin into s->file: OK (*p_len, *p_gen), NOT_FOUND, IO. */
static int load(twin_file_credstore_t *s, size_t *p_len, uint32_t *p_gen)
{
    ssize_t n = twin_read_file(s->dir, TWIN_CRED_FILE, s->file, sizeof(s->file));
    uint8_t digest[32];
    uint32_t len = 0;

    if (n == -1 && errno == ENOENT) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (n < (ssize_t)TWIN_CRED_HEADER_BYTES || memcmp(s->file, "PRVC", 4) != 0 || get_u32(s->file + 4) != 1u) {
        return PROV_STORAGE_IO;
    }
    len = get_u32(s->file + 12);
    if ((size_t)n != TWIN_CRED_HEADER_BYTES + len ||
        prov_crypto_sha256(s->file + TWIN_CRED_HEADER_BYTES, len, digest) != 0 || memcmp(digest, s->file + 16, 32) != 0) {
        return PROV_STORAGE_IO;
    }
    *p_len = len;
    *p_gen = get_u32(s->file + 8);
    return PROV_STORAGE_OK;
}

static int cs_stage(void *ctx, const uint8_t *payload, size_t len)
{
    twin_file_credstore_t *s = ctx;
    if (len > sizeof(s->staged)) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(s->staged, payload, len);
    s->staged_len = len;
    s->has_staged = 1;
    return PROV_STORAGE_OK;
}

static int cs_discard(void *ctx)
{
    twin_file_credstore_t *s = ctx;
    s->has_staged = 0;
    s->staged_len = 0;
    return PROV_STORAGE_OK;
}

static int cs_commit(void *ctx, uint32_t *p_generation)
{
    twin_file_credstore_t *s = ctx;
    size_t old_len = 0;
    uint32_t gen = 0;
    int rc = PROV_STORAGE_OK;

    if (!s->has_staged) {
        return PROV_STORAGE_NOT_FOUND;
    }
    rc = load(s, &old_len, &gen);
    if (rc == PROV_STORAGE_NOT_FOUND) {
        gen = 0u;
    } else if (rc != PROV_STORAGE_OK) {
        /* an unreadable old set must not stop a new one: count on from 0 */
        gen = 0u;
    }
    gen++;
    memcpy(s->file, "PRVC", 4);
    put_u32(s->file + 4, 1u);
    put_u32(s->file + 8, gen);
    put_u32(s->file + 12, (uint32_t)s->staged_len);
    if (prov_crypto_sha256(s->staged, s->staged_len, s->file + 16) != 0) {
        return PROV_STORAGE_IO;
    }
    memcpy(s->file + TWIN_CRED_HEADER_BYTES, s->staged, s->staged_len);
    if (twin_atomic_write(s->dir, TWIN_CRED_FILE, s->file, TWIN_CRED_HEADER_BYTES + s->staged_len, 0600) != 0) {
        return PROV_STORAGE_IO;
    }
    s->has_staged = 0;
    *p_generation = gen;
    return PROV_STORAGE_OK;
}

static int cs_read(void *ctx, uint8_t *buf, size_t size, size_t *p_len, uint32_t *p_gen)
{
    twin_file_credstore_t *s = ctx;
    size_t len = 0;
    uint32_t gen = 0;
    int rc = load(s, &len, &gen);

    if (rc == PROV_STORAGE_OK) {
        if (len > size) {
            rc = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(buf, s->file + TWIN_CRED_HEADER_BYTES, len);
            *p_len = len;
            *p_gen = gen;
        }
    }
    return rc;
}

static int cs_erase(void *ctx)
{
    twin_file_credstore_t *s = ctx;
    s->has_staged = 0;
    return (twin_remove(s->dir, TWIN_CRED_FILE) == 0 && twin_remove(s->dir, TWIN_LOCK_FILE) == 0) ? PROV_STORAGE_OK
                                                                                                   : PROV_STORAGE_IO;
}

static int cs_set_locked(void *ctx)
{
    twin_file_credstore_t *s = ctx;
    return (twin_atomic_write(s->dir, TWIN_LOCK_FILE, "LOCK\n", 5u, 0600) == 0) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int cs_is_locked(void *ctx)
{
    twin_file_credstore_t *s = ctx;
    char path[1200];
    struct stat st;
    (void)snprintf(path, sizeof(path), "%s/%s", s->dir, TWIN_LOCK_FILE);
    if (stat(path, &st) == 0) {
        return 1;
    }
    return (errno == ENOENT) ? 0 : PROV_STORAGE_IO;
}

void twin_file_credstore_init(twin_file_credstore_t *p_store, const char *dir, prov_credstore_t *p_cs)
{
    memset(p_store, 0, sizeof(*p_store));
    (void)snprintf(p_store->dir, sizeof(p_store->dir), "%s", dir);
    p_cs->ctx = p_store;
    p_cs->stage = cs_stage;
    p_cs->discard_staged = cs_discard;
    p_cs->commit = cs_commit;
    p_cs->read_committed = cs_read;
    p_cs->erase = cs_erase;
    p_cs->set_locked = cs_set_locked;
    p_cs->is_locked = cs_is_locked;
}
