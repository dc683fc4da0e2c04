/*
 * Key store "nvs" / "nvs-encrypted": an mbedTLS key generated on the chip and
 * kept as a DER blob in NVS. With NVS encryption on (sdkconfig, board
 * key store nvs-encrypted) the blob is encrypted at rest by NVS itself; the
 * code is the same.
 *
 * Layout (namespace "prov_key"): blobs "k0" and "k1" = [key type][private key
 * DER], kept as the ACTIVE and PENDING slots by keystore_slots.c (a one-byte
 * map switched last, so a power loss leaves the old or the new key).
 */
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "mbedtls/ecp.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/rsa.h"

#include "keystore_slots.h"
#include "port.h"
#include "prov/codes.h"
#include "prov/compat.h"
#include "prov/config.h"

/* RSA-3072 private key DER is about 1.8 KB. */
#define KEY_DER_MAX 2400u

static const char *TAG = "prov_ks_nvs";
static const uint8_t s_key_types[] = PROV_KEYSTORE_KEY_TYPES;
static const prov_ks_slots_t SLOTS = {.p_namespace = "prov_key", .p_records = {"k0", "k1"}};

/* Reads slot's blob into a heap buffer (caller wipes and frees). */
static int load_blob(prov_key_slot_t slot, uint8_t **pp_blob, size_t *p_len)
{
    size_t len = KEY_DER_MAX + 1u;
    uint8_t *p_blob = calloc(1, len);
    int st = (p_blob == NULL) ? PROV_STORAGE_IO : prov_ks_slots_read(&SLOTS, slot, p_blob, &len);

    if (st == PROV_STORAGE_OK && len < 2u) {
        st = PROV_STORAGE_IO;
    }
    if (st == PROV_STORAGE_OK) {
        *pp_blob = p_blob;
        *p_len = len;
    } else {
        free(p_blob);
    }
    return st;
}

static void wipe_free(uint8_t *p, size_t len)
{
    if (p != NULL) {
        mbedtls_platform_zeroize(p, len);
        free(p);
    }
}

/* Parses slot's key into pk (caller frees pk). */
static int load_pk(prov_key_slot_t slot, mbedtls_pk_context *p_pk, uint8_t *p_type)
{
    uint8_t *p_blob = NULL;
    size_t len = 0;
    int st = load_blob(slot, &p_blob, &len);

    if (st == PROV_STORAGE_OK) {
        if (p_type != NULL) {
            *p_type = p_blob[0];
        }
        if (prov_pk_parse_key(p_pk, p_blob + 1, len - 1u, prov_port_rng, NULL) != 0) {
            ESP_LOGE(TAG, "stored key does not parse");
            st = PROV_STORAGE_IO;
        }
    }
    wipe_free(p_blob, KEY_DER_MAX + 1u);
    return st;
}

static int ks_key_type(void *p_ctx, prov_key_slot_t slot, uint8_t *p_key_type)
{
    uint8_t *p_blob = NULL;
    size_t len = 0;
    int st;

    (void)p_ctx;
    st = load_blob(slot, &p_blob, &len);
    if (st == PROV_STORAGE_OK) {
        *p_key_type = p_blob[0];
    }
    wipe_free(p_blob, KEY_DER_MAX + 1u);
    return st;
}

typedef struct gen_job {
    uint8_t key_type;
    uint8_t *p_blob; /* out: [type][DER], KEY_DER_MAX + 1 bytes */
    size_t blob_len;
} gen_job_t;

/* Runs in the key generation task. */
static int generate_job(void *p_arg)
{
    gen_job_t *p_job = (gen_job_t *)p_arg;
    mbedtls_pk_context pk;
    int rc;
    int der_len;

    mbedtls_pk_init(&pk);
    switch (p_job->key_type) {
    case PROV_KEY_EC_P256:
    case PROV_KEY_EC_P384:
        rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (rc == 0) {
            rc = mbedtls_ecp_gen_key(
                (p_job->key_type == PROV_KEY_EC_P256) ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1,
                mbedtls_pk_ec(pk), prov_port_rng, NULL);
        }
        break;
    case PROV_KEY_RSA_2048:
    case PROV_KEY_RSA_3072:
        rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (rc == 0) {
            rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), prov_port_rng, NULL,
                                     (p_job->key_type == PROV_KEY_RSA_2048) ? 2048u : 3072u, 65537);
        }
        break;
    default:
        mbedtls_pk_free(&pk);
        return PROV_STORAGE_UNSUPPORTED;
    }
    if (rc != 0) {
        ESP_LOGE(TAG, "key generation failed: -0x%04x", (unsigned)-rc);
        mbedtls_pk_free(&pk);
        return PROV_STORAGE_CRYPTO;
    }
    /* mbedtls_pk_write_key_der writes at the END of the buffer. */
    der_len = mbedtls_pk_write_key_der(&pk, p_job->p_blob + 1, KEY_DER_MAX);
    mbedtls_pk_free(&pk);
    if (der_len <= 0) {
        return PROV_STORAGE_CRYPTO;
    }
    memmove(p_job->p_blob + 1, p_job->p_blob + 1 + KEY_DER_MAX - (size_t)der_len, (size_t)der_len);
    p_job->p_blob[0] = p_job->key_type;
    p_job->blob_len = (size_t)der_len + 1u;
    return PROV_STORAGE_OK;
}

static bool type_supported(uint8_t key_type)
{
    size_t i;
    for (i = 0; i < sizeof(s_key_types); i++) {
        if (s_key_types[i] == key_type) {
            return true;
        }
    }
    return false;
}

static int ks_generate(void *p_ctx, prov_key_slot_t slot, uint8_t key_type)
{
    gen_job_t job = {.key_type = key_type};
    int st;

    (void)p_ctx;
    if (!type_supported(key_type)) {
        return PROV_STORAGE_UNSUPPORTED;
    }
    job.p_blob = calloc(1, KEY_DER_MAX + 1u);
    if (job.p_blob == NULL) {
        return PROV_STORAGE_IO;
    }
    st = prov_port_keygen_run(generate_job, &job);
    if (st == PROV_STORAGE_OK) {
        st = prov_ks_slots_write(&SLOTS, slot, job.p_blob, job.blob_len);
    }
    wipe_free(job.p_blob, KEY_DER_MAX + 1u);
    return st;
}

static int ks_public_key(void *p_ctx, prov_key_slot_t slot, uint8_t *p_out, size_t out_size, size_t *p_out_len)
{
    mbedtls_pk_context pk;
    uint8_t buf[PROV_PUBKEY_DER_MAX];
    int st;
    int len;

    (void)p_ctx;
    mbedtls_pk_init(&pk);
    st = load_pk(slot, &pk, NULL);
    if (st == PROV_STORAGE_OK) {
        len = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof(buf));
        if (len <= 0) {
            st = PROV_STORAGE_CRYPTO;
        } else if ((size_t)len > out_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_out, buf + sizeof(buf) - (size_t)len, (size_t)len);
            *p_out_len = (size_t)len;
        }
    }
    mbedtls_pk_free(&pk);
    return st;
}

static int ks_sign_sha256(void *p_ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size,
                          size_t *p_sig_len)
{
    mbedtls_pk_context pk;
    /* mbedTLS 2.28 insists on a MBEDTLS_PK_SIGNATURE_MAX_SIZE buffer (1 KB) whatever the key: sign there, then copy. */
    uint8_t *p_buf = malloc(MBEDTLS_PK_SIGNATURE_MAX_SIZE);
    size_t len = 0;
    int st;

    (void)p_ctx;
    if (p_buf == NULL) {
        return PROV_STORAGE_IO;
    }
    mbedtls_pk_init(&pk);
    st = load_pk(slot, &pk, NULL);
    if (st == PROV_STORAGE_OK &&
        prov_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32u, p_buf, MBEDTLS_PK_SIGNATURE_MAX_SIZE, &len, prov_port_rng,
                     NULL) != 0) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st == PROV_STORAGE_OK) {
        if (len > sig_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_sig, p_buf, len);
            *p_sig_len = len;
        }
    }
    mbedtls_pk_free(&pk);
    free(p_buf);
    return st;
}

static int ks_promote_pending(void *p_ctx)
{
    (void)p_ctx;
    return prov_ks_slots_promote(&SLOTS);
}

static int ks_destroy(void *p_ctx, prov_key_slot_t slot)
{
    (void)p_ctx;
    return prov_ks_slots_destroy(&SLOTS, slot);
}

int prov_port_keystore_init(prov_keystore_t *p_out)
{
    memset(p_out, 0, sizeof(*p_out));
    p_out->store_id = (uint8_t)PROV_KEYSTORE_ID;
    p_out->key_types = s_key_types;
    p_out->n_key_types = sizeof(s_key_types);
    p_out->key_type = ks_key_type;
    p_out->generate = ks_generate;
    p_out->public_key = ks_public_key;
    p_out->sign_sha256 = ks_sign_sha256;
    p_out->promote_pending = ks_promote_pending;
    p_out->destroy = ks_destroy;
    return 0;
}

int prov_port_tls_identity(prov_port_tls_identity_t *p_out)
{
    uint8_t *p_blob = NULL;
    size_t len = 0;
    int st = load_blob(PROV_KEY_SLOT_ACTIVE, &p_blob, &len);

    memset(p_out, 0, sizeof(*p_out));
    if (st == PROV_STORAGE_OK) {
        /* esp-tls parses DER when given its exact length; drop the type byte in place. */
        memmove(p_blob, p_blob + 1, len - 1u);
        p_out->key_der = p_blob;
        p_out->key_der_len = len - 1u;
    } else {
        wipe_free(p_blob, KEY_DER_MAX + 1u);
    }
    return st;
}

void prov_port_tls_identity_release(prov_port_tls_identity_t *p_id)
{
    wipe_free((uint8_t *)p_id->key_der, KEY_DER_MAX + 1u);
    memset(p_id, 0, sizeof(*p_id));
}
