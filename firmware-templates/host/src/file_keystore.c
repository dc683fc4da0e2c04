/*
 * file_keystore.c - key store over PEM files, replaced atomically.
 */
#define _POSIX_C_SOURCE 200809L
#include "file_keystore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "mbedtls/ecp.h"
#include "mbedtls/rsa.h"
#include "prov/codes.h"
#include "prov/compat.h"
#include "prov/config.h"

#define KEY_PEM_MAX 4096u

static const uint8_t SUPPORTED_TYPES[] = {PROV_KEY_EC_P256, PROV_KEY_EC_P384, PROV_KEY_RSA_2048, PROV_KEY_RSA_3072};

static const char *file_of(prov_key_slot_t slot)
{
    return (slot == PROV_KEY_SLOT_PENDING) ? TWIN_KEY_FILE_PENDING : TWIN_KEY_FILE_ACTIVE;
}

static uint8_t type_of(mbedtls_pk_context *pk)
{
    uint8_t type = PROV_KEY_NONE;
    if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY) {
        mbedtls_ecp_group_id id = mbedtls_pk_ec(*pk)->MBEDTLS_PRIVATE(grp).id;
        type = (id == MBEDTLS_ECP_DP_SECP256R1) ? PROV_KEY_EC_P256
               : (id == MBEDTLS_ECP_DP_SECP384R1) ? PROV_KEY_EC_P384 : PROV_KEY_NONE;
    } else if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA) {
        size_t bits = mbedtls_pk_get_bitlen(pk);
        type = (bits == 2048u) ? PROV_KEY_RSA_2048 : (bits == 3072u) ? PROV_KEY_RSA_3072 : PROV_KEY_NONE;
    }
    return type;
}

static void unload(twin_file_keystore_t *s, prov_key_slot_t slot)
{
    mbedtls_pk_free(&s->keys[slot]);
    mbedtls_pk_init(&s->keys[slot]);
    s->loaded[slot] = 0;
    s->types[slot] = PROV_KEY_NONE;
}

/* Load slot from its file: PROV_STORAGE_OK, _NOT_FOUND, _IO. */
static int load(twin_file_keystore_t *s, prov_key_slot_t slot)
{
    unsigned char pem[KEY_PEM_MAX + 1u];
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
        pem[n] = 0u;
        if (prov_pk_parse_key(&s->keys[slot], pem, (size_t)n + 1u, mbedtls_ctr_drbg_random, s->p_drbg) != 0 ||
            (s->types[slot] = type_of(&s->keys[slot])) == PROV_KEY_NONE) {
            unload(s, slot);
            rc = PROV_STORAGE_IO;
        } else {
            s->loaded[slot] = 1;
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
    mbedtls_pk_context pk;
    unsigned char pem[KEY_PEM_MAX];
    int ret = 0;
    int rc = PROV_STORAGE_OK;

    if (slot > PROV_KEY_SLOT_PENDING) {
        return PROV_STORAGE_BAD_ARG;
    }
    mbedtls_pk_init(&pk);
    if (key_type == PROV_KEY_EC_P256 || key_type == PROV_KEY_EC_P384) {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (ret == 0) {
            ret = mbedtls_ecp_gen_key(key_type == PROV_KEY_EC_P256 ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1,
                                      mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, s->p_drbg);
        }
    } else if (key_type == PROV_KEY_RSA_2048 || key_type == PROV_KEY_RSA_3072) {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (ret == 0) {
            ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, s->p_drbg,
                                      key_type == PROV_KEY_RSA_2048 ? 2048u : 3072u, 65537);
        }
    } else {
        rc = PROV_STORAGE_UNSUPPORTED;
    }
    if (rc == PROV_STORAGE_OK && ret != 0) {
        rc = PROV_STORAGE_CRYPTO;
    }
    if (rc == PROV_STORAGE_OK && mbedtls_pk_write_key_pem(&pk, pem, sizeof(pem)) != 0) {
        rc = PROV_STORAGE_CRYPTO;
    }
    if (rc == PROV_STORAGE_OK && s->keygen_delay_ms > 0u) {
        struct timespec ts = {(time_t)(s->keygen_delay_ms / 1000u), (long)(s->keygen_delay_ms % 1000u) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    /* the new key replaces the old only once it is on disk */
    if (rc == PROV_STORAGE_OK && twin_atomic_write(s->dir, file_of(slot), pem, strlen((char *)pem), 0600) != 0) {
        rc = PROV_STORAGE_IO;
    }
    mbedtls_platform_zeroize(pem, sizeof(pem));
    mbedtls_pk_free(&pk);
    unload(s, slot);
    return rc;
}

static int ks_public_key(void *ctx, prov_key_slot_t slot, uint8_t *out, size_t out_size, size_t *out_len)
{
    twin_file_keystore_t *s = ctx;
    unsigned char der[PROV_PUBKEY_DER_MAX];
    int n = 0;
    int rc = (slot > PROV_KEY_SLOT_PENDING || out == NULL || out_len == NULL) ? PROV_STORAGE_BAD_ARG : load(s, slot);

    if (rc == PROV_STORAGE_OK) {
        n = mbedtls_pk_write_pubkey_der(&s->keys[slot], der, sizeof(der));
        if (n <= 0) {
            rc = PROV_STORAGE_CRYPTO;
        } else if ((size_t)n > out_size) {
            rc = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(out, der + sizeof(der) - (size_t)n, (size_t)n);
            *out_len = (size_t)n;
        }
    }
    return rc;
}

static int ks_sign(void *ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *sig, size_t sig_size,
                   size_t *sig_len)
{
    twin_file_keystore_t *s = ctx;
    unsigned char buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    int rc = (slot > PROV_KEY_SLOT_PENDING || sig == NULL || sig_len == NULL) ? PROV_STORAGE_BAD_ARG : load(s, slot);

    if (rc == PROV_STORAGE_OK) {
        if (prov_pk_sign(&s->keys[slot], MBEDTLS_MD_SHA256, hash, 32u, buf, sizeof(buf), &len, mbedtls_ctr_drbg_random,
                         s->p_drbg) != 0) {
            rc = PROV_STORAGE_CRYPTO;
        } else if (len > sig_size) {
            rc = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(sig, buf, len);
            *sig_len = len;
        }
    }
    return rc;
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

void twin_file_keystore_init(twin_file_keystore_t *p_store, const char *dir, mbedtls_ctr_drbg_context *p_drbg,
                             uint32_t keygen_delay_ms, prov_keystore_t *p_ks)
{
    memset(p_store, 0, sizeof(*p_store));
    (void)snprintf(p_store->dir, sizeof(p_store->dir), "%s", dir);
    p_store->p_drbg = p_drbg;
    p_store->keygen_delay_ms = keygen_delay_ms;
    mbedtls_pk_init(&p_store->keys[0]);
    mbedtls_pk_init(&p_store->keys[1]);

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
