/*
 * file_keystore.c - key store over PEM files, replaced atomically. The key
 * itself is made and used through prov/crypto.h; this file only keeps its
 * private key DER as PEM (SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY",
 * the forms OpenSSL, and so libmosquitto, read).
 */
#define _POSIX_C_SOURCE 200809L
#include "file_keystore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "mbedtls/platform_util.h"
#include "prov/base64.h"
#include "prov/codes.h"
#include "prov/config.h"

#define KEY_PEM_MAX 4096u
#define PEM_LINE_CHARS 64u

static const uint8_t SUPPORTED_TYPES[] = {PROV_KEY_EC_P256, PROV_KEY_EC_P384, PROV_KEY_RSA_2048, PROV_KEY_RSA_3072};

static const char *file_of(prov_key_slot_t slot)
{
    return (slot == PROV_KEY_SLOT_PENDING) ? TWIN_KEY_FILE_PENDING : TWIN_KEY_FILE_ACTIVE;
}

static const char *pem_label(uint8_t key_type)
{
    return (key_type == PROV_KEY_RSA_2048 || key_type == PROV_KEY_RSA_3072) ? "RSA PRIVATE KEY" : "EC PRIVATE KEY";
}

/* DER -> PEM text (NUL-terminated). Returns its length, or 0 when it does not fit. */
static size_t der_to_pem(const uint8_t *p_der, size_t der_len, uint8_t key_type, char *p_pem, size_t pem_size)
{
    char b64[PROV_BASE64_ENCODED_LEN(PROV_CRYPTO_KEY_REF_MAX)];
    size_t b64_len = 0;
    size_t pos = 0;
    int n = 0;

    if (prov_base64_encode(p_der, der_len, b64, sizeof(b64), &b64_len) != PROV_OK) {
        return 0u;
    }
    n = snprintf(p_pem, pem_size, "-----BEGIN %s-----\n", pem_label(key_type));
    pos = (n > 0) ? (size_t)n : pem_size;
    for (size_t i = 0; i < b64_len && pos < pem_size; i += PEM_LINE_CHARS) {
        size_t line = (b64_len - i < PEM_LINE_CHARS) ? (b64_len - i) : PEM_LINE_CHARS;
        n = snprintf(p_pem + pos, pem_size - pos, "%.*s\n", (int)line, b64 + i);
        pos += (n > 0) ? (size_t)n : pem_size;
    }
    if (pos < pem_size) {
        n = snprintf(p_pem + pos, pem_size - pos, "-----END %s-----\n", pem_label(key_type));
        pos += (n > 0) ? (size_t)n : pem_size;
    }
    mbedtls_platform_zeroize(b64, sizeof(b64));
    return (pos < pem_size) ? pos : 0u;
}

/* PEM text -> DER: the base64 between the BEGIN and END lines. Returns PROV_STORAGE_OK or _IO. */
static int pem_to_der(char *p_pem, uint8_t *p_der, size_t der_size, size_t *p_der_len)
{
    char *p_begin = strstr(p_pem, "-----BEGIN ");
    char *p_body = (p_begin != NULL) ? strchr(p_begin, '\n') : NULL;
    char *p_end = (p_body != NULL) ? strstr(p_body, "-----END ") : NULL;
    size_t out = 0;

    if (p_end == NULL) {
        return PROV_STORAGE_IO;
    }
    /* squeeze out the line breaks in place, then decode */
    for (char *p = p_body + 1; p < p_end; p++) {
        if (*p != '\n' && *p != '\r') {
            p_body[out++] = *p;
        }
    }
    return (prov_base64_decode(p_body, out, p_der, der_size, p_der_len) == PROV_OK) ? PROV_STORAGE_OK
                                                                                    : PROV_STORAGE_IO;
}

static void unload(twin_file_keystore_t *s, prov_key_slot_t slot)
{
    mbedtls_platform_zeroize(s->refs[slot], sizeof(s->refs[slot]));
    s->ref_len[slot] = 0u;
    s->loaded[slot] = 0;
    s->types[slot] = PROV_KEY_NONE;
}

/* Load slot from its file: PROV_STORAGE_OK, _NOT_FOUND, _IO. */
static int load(twin_file_keystore_t *s, prov_key_slot_t slot)
{
    char pem[KEY_PEM_MAX + 1u];
    ssize_t n = 0;
    int rc = PROV_STORAGE_OK;

    if (s->loaded[slot]) {
        return (s->types[slot] != PROV_KEY_NONE) ? PROV_STORAGE_OK : PROV_STORAGE_NOT_FOUND;
    }
    unload(s, slot);
    n = twin_read_file(s->dir, file_of(slot), pem, KEY_PEM_MAX);
    if (n == -1 && errno == ENOENT) {
        s->loaded[slot] = 1;
        rc = PROV_STORAGE_NOT_FOUND;
    } else if (n <= 0) {
        rc = PROV_STORAGE_IO;
    } else {
        pem[n] = '\0';
        rc = pem_to_der(pem, s->refs[slot], sizeof(s->refs[slot]), &s->ref_len[slot]);
        if (rc == PROV_STORAGE_OK &&
            (prov_crypto_key_type(s->refs[slot], s->ref_len[slot], &s->types[slot]) != PROV_STORAGE_OK)) {
            rc = PROV_STORAGE_IO; /* a file that is not one of our keys: the flash is corrupt */
        }
        if (rc == PROV_STORAGE_OK) {
            s->loaded[slot] = 1;
        } else {
            unload(s, slot);
        }
        mbedtls_platform_zeroize(pem, sizeof(pem));
    }
    return rc;
}

static int ks_key_type(void *ctx, prov_key_slot_t slot, uint8_t *p_type)
{
    twin_file_keystore_t *s = ctx;
    int rc = (slot > PROV_KEY_SLOT_PENDING || p_type == NULL) ? PROV_STORAGE_BAD_ARG : load(s, slot);
    if (rc == PROV_STORAGE_OK) {
        *p_type = s->types[slot];
    }
    return rc;
}

static int ks_generate(void *ctx, prov_key_slot_t slot, uint8_t key_type)
{
    twin_file_keystore_t *s = ctx;
    uint8_t der[PROV_CRYPTO_KEY_REF_MAX];
    char pem[KEY_PEM_MAX];
    size_t der_len = 0;
    size_t pem_len = 0;
    int rc = (slot > PROV_KEY_SLOT_PENDING) ? PROV_STORAGE_BAD_ARG : PROV_STORAGE_OK;

    if (rc == PROV_STORAGE_OK) {
        rc = prov_crypto_key_generate(key_type, 0u, der, sizeof(der), &der_len);
    }
    if (rc == PROV_STORAGE_OK) {
        pem_len = der_to_pem(der, der_len, key_type, pem, sizeof(pem));
        rc = (pem_len > 0u) ? PROV_STORAGE_OK : PROV_STORAGE_TOO_LARGE;
    }
    if (rc == PROV_STORAGE_OK && s->keygen_delay_ms > 0u) {
        struct timespec ts = {(time_t)(s->keygen_delay_ms / 1000u), (long)(s->keygen_delay_ms % 1000u) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    /* the new key replaces the old only once it is on disk */
    if (rc == PROV_STORAGE_OK && twin_atomic_write(s->dir, file_of(slot), pem, pem_len, 0600) != 0) {
        rc = PROV_STORAGE_IO;
    }
    mbedtls_platform_zeroize(der, sizeof(der));
    mbedtls_platform_zeroize(pem, sizeof(pem));
    unload(s, slot);
    return rc;
}

static int ks_public_key(void *ctx, prov_key_slot_t slot, uint8_t *out, size_t out_size, size_t *out_len)
{
    twin_file_keystore_t *s = ctx;
    int rc = (slot > PROV_KEY_SLOT_PENDING || out == NULL || out_len == NULL) ? PROV_STORAGE_BAD_ARG : load(s, slot);

    return (rc == PROV_STORAGE_OK) ? prov_crypto_key_public(s->refs[slot], s->ref_len[slot], out, out_size, out_len)
                                   : rc;
}

static int ks_sign(void *ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *sig, size_t sig_size,
                   size_t *sig_len)
{
    twin_file_keystore_t *s = ctx;
    int rc = (slot > PROV_KEY_SLOT_PENDING || sig == NULL || sig_len == NULL) ? PROV_STORAGE_BAD_ARG : load(s, slot);

    return (rc == PROV_STORAGE_OK)
               ? prov_crypto_key_sign_sha256(s->refs[slot], s->ref_len[slot], hash, sig, sig_size, sig_len)
               : rc;
}

static int ks_promote(void *ctx)
{
    twin_file_keystore_t *s = ctx;
    int rc = load(s, PROV_KEY_SLOT_PENDING);

    if (rc == PROV_STORAGE_OK) {
        /* rename() replaces the active file atomically: old pair or new active, never neither */
        rc = (twin_rename(s->dir, TWIN_KEY_FILE_PENDING, TWIN_KEY_FILE_ACTIVE) == 0) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
    }
    unload(s, PROV_KEY_SLOT_ACTIVE);
    unload(s, PROV_KEY_SLOT_PENDING);
    return rc;
}

static int ks_destroy(void *ctx, prov_key_slot_t slot)
{
    twin_file_keystore_t *s = ctx;
    int rc = PROV_STORAGE_BAD_ARG;
    if (slot <= PROV_KEY_SLOT_PENDING) {
        unload(s, slot);
        rc = (twin_remove(s->dir, file_of(slot)) == 0) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
    }
    return rc;
}

void twin_file_keystore_init(twin_file_keystore_t *p_store, const char *dir, uint32_t keygen_delay_ms,
                             prov_keystore_t *p_ks)
{
    memset(p_store, 0, sizeof(*p_store));
    (void)snprintf(p_store->dir, sizeof(p_store->dir), "%s", dir);
    p_store->keygen_delay_ms = keygen_delay_ms;

    p_ks->ctx = p_store;
    p_ks->store_id = PROV_STORE_FILE;
    p_ks->key_types = SUPPORTED_TYPES;
    p_ks->n_key_types = sizeof(SUPPORTED_TYPES);
    p_ks->key_type = ks_key_type;
    p_ks->generate = ks_generate;
    p_ks->public_key = ks_public_key;
    p_ks->sign_sha256 = ks_sign;
    p_ks->promote_pending = ks_promote;
    p_ks->destroy = ks_destroy;
}

void twin_file_keystore_free(twin_file_keystore_t *p_store)
{
    unload(p_store, PROV_KEY_SLOT_ACTIVE);
    unload(p_store, PROV_KEY_SLOT_PENDING);
}
