/*
 * Key store "nvs" / "nvs-encrypted": a key made on the chip through
 * prov/crypto.h and kept in NVS. With NVS encryption on (sdkconfig, board
 * key store nvs-encrypted) NVS encrypts it at rest; the code is the same.
 *
 * Layout (namespace "prov_key"): records "k0" and "k1" = [key type][key
 * reference], kept as the ACTIVE and PENDING slots by keystore_slots.c (a
 * one-byte map switched last, so a power loss leaves the old or the new key).
 * The reference is what prov/crypto.h returns: on Mbed TLS 3 (ESP-IDF v5) the
 * private key DER itself; on Mbed TLS 4 (ESP-IDF v6) the PSA key id
 * PROV_PSA_KEY_ID_BASE + record index, the key living in PSA's own storage
 * (PSA ITS, also in NVS: encrypted too when NVS is).
 */
#include <stdlib.h>
#include <string.h>

#include "esp_idf_version.h"
#include "esp_log.h"
#include "mbedtls/platform_util.h"

#include "keystore_slots.h"
#include "port.h"
#include "prov/codes.h"
#include "prov/config.h"
#include "prov/crypto.h"

#if PROV_NVS_ENCRYPTED
#if ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 2, 0)
/* 5.1 has neither the HMAC scheme nor nvs_sec_provider: NVS would be plaintext while HELLO says "nvs-encrypted". */
#error "the nvs-encrypted key store needs ESP-IDF v5.2 or newer"
#endif
#if !CONFIG_NVS_ENCRYPTION
#error "the nvs-encrypted key store needs CONFIG_NVS_ENCRYPTION=y (sdkconfig.defaults sets it; was it overridden?)"
#endif
#endif

#if !CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED || !CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED
#error "the nvs key store makes P-256 and P-384 keys: enable CONFIG_MBEDTLS_ECP_DP_SECP256R1/384R1_ENABLED"
#endif

/* PSA key ids of the two records ("prv" + index): inside PSA's user range, one per record. */
#define PROV_PSA_KEY_ID_BASE 0x00707276u
#define RECORD_MAX (1u + PROV_CRYPTO_KEY_REF_MAX)

static const char *TAG = "prov_ks_nvs";

static void drop_psa_key(unsigned index);
static const prov_ks_slots_t SLOTS = {
    .p_namespace = "prov_key", .p_records = {"k0", "k1"}, .on_drop = drop_psa_key};

static void ref_of_index(unsigned index, uint8_t ref[4])
{
    uint32_t id = PROV_PSA_KEY_ID_BASE + index;
    ref[0] = (uint8_t)(id >> 24);
    ref[1] = (uint8_t)(id >> 16);
    ref[2] = (uint8_t)(id >> 8);
    ref[3] = (uint8_t)id;
}

/* A dropped record's PSA key goes too (nothing to do with Mbed TLS 3, where the record held the key). */
static void drop_psa_key(unsigned index)
{
#if PROV_CRYPTO_USE_PSA
    uint8_t ref[4];
    ref_of_index(index, ref);
    (void)prov_crypto_key_destroy(ref, sizeof(ref));
#else
    (void)index;
    (void)ref_of_index;
#endif
}

static void wipe_free(uint8_t *p, size_t len)
{
    if (p != NULL) {
        mbedtls_platform_zeroize(p, len);
        free(p);
    }
}

/* Reads slot's record into a heap buffer of RECORD_MAX bytes (caller wipes and frees). */
static int load_record(prov_key_slot_t slot, uint8_t **pp_rec, size_t *p_len)
{
    size_t len = RECORD_MAX;
    uint8_t *p_rec = calloc(1, RECORD_MAX);
    int st = (p_rec == NULL) ? PROV_STORAGE_IO : prov_ks_slots_read(&SLOTS, slot, p_rec, &len);

    if (st == PROV_STORAGE_OK && len < 2u) {
        st = PROV_STORAGE_IO;
    }
    if (st == PROV_STORAGE_OK) {
        *pp_rec = p_rec;
        *p_len = len;
    } else {
        wipe_free(p_rec, RECORD_MAX);
    }
    return st;
}

static int nvs_key_type(void *p_ctx, prov_key_slot_t slot, uint8_t *p_key_type)
{
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st = load_record(slot, &p_rec, &len);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        *p_key_type = p_rec[0];
    }
    wipe_free(p_rec, RECORD_MAX);
    return st;
}

typedef struct gen_job {
    uint8_t key_type;
    unsigned index;  /* the record the key goes to (names its PSA key id) */
    uint8_t *p_rec;  /* out: [type][reference], RECORD_MAX bytes */
    size_t rec_len;
} gen_job_t;

/* Runs in the key generation task. */
static int generate_job(void *p_arg)
{
    gen_job_t *p_job = (gen_job_t *)p_arg;
    size_t ref_len = 0;
    int st = prov_crypto_key_generate(p_job->key_type, PROV_PSA_KEY_ID_BASE + p_job->index, p_job->p_rec + 1,
                                      RECORD_MAX - 1u, &ref_len);

    if (st != PROV_STORAGE_OK) {
        ESP_LOGE(TAG, "key generation (type %u) failed: %d", (unsigned)p_job->key_type, st);
        return st;
    }
    p_job->p_rec[0] = p_job->key_type;
    p_job->rec_len = ref_len + 1u;
    return PROV_STORAGE_OK;
}

static int nvs_generate(void *p_ctx, prov_key_slot_t slot, uint8_t key_type)
{
    gen_job_t job = {.key_type = key_type};
    int st;

    (void)p_ctx;
    if (!prov_port_key_type_supported(key_type)) {
        return PROV_STORAGE_UNSUPPORTED;
    }
    st = prov_ks_slots_next_index(&SLOTS, &job.index);
    if (st != PROV_STORAGE_OK) {
        return st;
    }
    job.p_rec = calloc(1, RECORD_MAX);
    if (job.p_rec == NULL) {
        return PROV_STORAGE_IO;
    }
    st = prov_port_keygen_run(generate_job, &job);
    if (st == PROV_STORAGE_OK) {
        st = prov_ks_slots_write(&SLOTS, slot, job.p_rec, job.rec_len);
        if (st != PROV_STORAGE_OK) {
            drop_psa_key(job.index); /* the map never pointed at it */
        }
    }
    wipe_free(job.p_rec, RECORD_MAX);
    return st;
}

static int nvs_public_key(void *p_ctx, prov_key_slot_t slot, uint8_t *p_out, size_t out_size, size_t *p_out_len)
{
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st = load_record(slot, &p_rec, &len);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        st = prov_crypto_key_public(p_rec + 1, len - 1u, p_out, out_size, p_out_len);
    }
    wipe_free(p_rec, RECORD_MAX);
    /* A record whose key cannot be used is a storage fault, not a crypto one: the flash lost it. */
    return (st == PROV_STORAGE_NOT_FOUND) ? PROV_STORAGE_IO : st;
}

static int nvs_sign_sha256(void *p_ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size,
                          size_t *p_sig_len)
{
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st = load_record(slot, &p_rec, &len);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        st = prov_crypto_key_sign_sha256(p_rec + 1, len - 1u, hash, p_sig, sig_size, p_sig_len);
    }
    wipe_free(p_rec, RECORD_MAX);
    return (st == PROV_STORAGE_NOT_FOUND) ? PROV_STORAGE_IO : st;
}

static int nvs_promote_pending(void *p_ctx)
{
    (void)p_ctx;
    return prov_ks_slots_promote(&SLOTS);
}

static int nvs_destroy(void *p_ctx, prov_key_slot_t slot)
{
    (void)p_ctx;
    return prov_ks_slots_destroy(&SLOTS, slot);
}

static const prov_keystore_t OPS = {
    .key_type = nvs_key_type,
    .generate = nvs_generate,
    .public_key = nvs_public_key,
    .sign_sha256 = nvs_sign_sha256,
    .promote_pending = nvs_promote_pending,
    .destroy = nvs_destroy,
};

int prov_port_keystore_init(prov_keystore_t *p_out)
{
    prov_port_keystore_fill(p_out, &OPS);
    return 0;
}

/* The private key DER of record p_rec (its reference after the type byte) into p_key. */
static int export_der(const uint8_t *p_rec, size_t len, provision_key_t *p_key)
{
    uint8_t *p_der = calloc(1, PROV_CRYPTO_PRIVATE_DER_MAX);
    size_t der_len = 0;
    int st = (p_der == NULL) ? PROV_STORAGE_IO
                             : prov_crypto_key_private_der(p_rec + 1, len - 1u, p_der, PROV_CRYPTO_PRIVATE_DER_MAX,
                                                           &der_len);

    if (st == PROV_STORAGE_OK) {
        /* esp-tls parses DER when given its exact length */
        p_key->p_der = p_der;
        p_key->der_len = der_len;
    } else {
        wipe_free(p_der, PROV_CRYPTO_PRIVATE_DER_MAX);
    }
    return st;
}

int prov_port_key_get(provision_key_t *p_key)
{
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st = load_record(PROV_KEY_SLOT_ACTIVE, &p_rec, &len);

    memset(p_key, 0, sizeof(*p_key));
    if (st == PROV_STORAGE_OK) {
        p_key->key_type = prov_port_key_type_name(p_rec[0]);
#if PROV_CRYPTO_USE_PSA
        /* Mbed TLS 4: the record holds the persistent key's id; the key stays in PSA's storage. */
        p_key->kind = PROVISION_KEY_PSA;
        p_key->psa_key_id = ((uint32_t)p_rec[1] << 24) | ((uint32_t)p_rec[2] << 16) | ((uint32_t)p_rec[3] << 8) | p_rec[4];
        st = (len == 5u) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
#else
        p_key->kind = PROVISION_KEY_DER;
        st = export_der(p_rec, len, p_key);
#endif
    }
    wipe_free(p_rec, RECORD_MAX);
    return st;
}

int prov_port_key_export_der(provision_key_t *p_key)
{
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st;

    if (p_key->p_der != NULL) {
        return PROV_STORAGE_OK;
    }
    st = load_record(PROV_KEY_SLOT_ACTIVE, &p_rec, &len);
    if (st == PROV_STORAGE_OK) {
        st = export_der(p_rec, len, p_key);
    }
    wipe_free(p_rec, RECORD_MAX);
    return st;
}

void prov_port_key_free(provision_key_t *p_key)
{
    wipe_free((uint8_t *)p_key->p_der, PROV_CRYPTO_PRIVATE_DER_MAX);
    memset(p_key, 0, sizeof(*p_key));
}
