/*
 * Key store "ds": an RSA key for the Digital Signature peripheral
 * (ESP32-S2/S3/C3/C6).
 *
 * GENERATE_KEY makes the RSA key in RAM (in the key generation task, through
 * prov/crypto.h: a volatile PSA key on Mbed TLS 4), derives the DS operands
 * from it (ds_params.c), makes a random 32-byte HMAC key and encrypts the
 * operands with it (esp_ds_encrypt_params); the HMAC key is burnt into an
 * eFuse key block with
 * purpose HMAC_DOWN_DIGITAL_SIGNATURE, which makes it unreadable by
 * software; then both plaintexts are wiped. Only the ciphertext (and the
 * public key) is kept in NVS: from then on only the DS peripheral can use
 * the key, and only on this chip.
 *
 * Each new key needs an unused eFuse key block (the old HMAC key cannot be
 * read back to encrypt another key): the board's block first, then any free
 * one. eFuse burning is irreversible.
 *
 * Signing: on ESP-IDF v5 esp_ds_sign() with our PKCS#1 v1.5 padding; on v6
 * (no more esp_rsa_sign_alt) through ESP-IDF's PSA driver for the DS
 * peripheral, an opaque key of lifetime PSA_KEY_LIFETIME_ESP_RSA_DS_VOLATILE,
 * as esp-tls does for the TLS handshake.
 *
 * NVS layout (namespace "prov_ds"): records "d0"/"d1" kept as the ACTIVE and
 * PENDING slots by keystore_slots.c, like keystore_nvs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "esp_ds.h"
#include "esp_efuse.h"
#include "esp_heap_caps.h"
#include "esp_hmac.h"
#include "esp_log.h"
#include "mbedtls/platform_util.h"

#include "ds_params.h"
#include "keystore_slots.h"
#include "port.h"
#include "prov/codes.h"
#include "prov/config.h"
#include "prov/crypto.h"

#if PROV_CRYPTO_USE_PSA
#include "psa/crypto.h"
#include "psa_crypto_driver_esp_rsa_ds.h" /* esp_ds_data_ctx_t, the opaque DS key */
#else
#include "esp_ds/esp_rsa_sign_alt.h" /* esp_ds_data_ctx_t */
#endif

#if !CONFIG_ESP_TLS_USE_DS_PERIPHERAL
#error "the ds key store needs CONFIG_ESP_TLS_USE_DS_PERIPHERAL=y: the TLS client must sign with the DS peripheral"
#endif

static const char *TAG = "prov_ks_ds";
static const prov_ks_slots_t SLOTS = {.p_namespace = "prov_ds", .p_records = {"d0", "d1"}};

typedef struct ds_record {
    uint8_t key_type;
    uint8_t efuse_key_id; /* 0..5 = BLOCK_KEY0..5 = HMAC_KEY0..5 */
    uint16_t pub_len;
    uint8_t pub[PROV_PUBKEY_DER_MAX];
    esp_ds_data_t ds; /* ciphertext of the private key parameters + IV */
} ds_record_t;

/* What esp-tls needs for the TLS handshake (prov_port_key_get): kept for as long as a TLS client may use it. */
static esp_ds_data_ctx_t s_tls_ctx;
static esp_ds_data_t *s_tls_ds;

static unsigned key_bits(uint8_t key_type)
{
    return (key_type == PROV_KEY_RSA_3072) ? 3072u : 2048u;
}

/* Record in internal, word-aligned RAM: the DS peripheral reads it by DMA. */
static ds_record_t *record_alloc(void)
{
    return heap_caps_calloc(1, sizeof(ds_record_t), MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
}

static int load_record(prov_key_slot_t slot, ds_record_t *p_rec)
{
    size_t len = sizeof(*p_rec);
    int st = prov_ks_slots_read(&SLOTS, slot, p_rec, &len);

    return (st == PROV_STORAGE_OK && len != sizeof(*p_rec)) ? PROV_STORAGE_IO : st;
}

static int ds_key_type(void *p_ctx, prov_key_slot_t slot, uint8_t *p_key_type)
{
    ds_record_t *p_rec = record_alloc();
    int st = (p_rec == NULL) ? PROV_STORAGE_IO : load_record(slot, p_rec);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        *p_key_type = p_rec->key_type;
    }
    free(p_rec);
    return st;
}

/* The board's eFuse key block if still unused, else any unused one. */
static int pick_key_block(esp_efuse_block_t *p_block)
{
    esp_efuse_block_t preferred = (esp_efuse_block_t)(EFUSE_BLK_KEY0 + PROV_DS_EFUSE_KEY_BLOCK);
    esp_efuse_block_t any;

    if (esp_efuse_key_block_unused(preferred)) {
        *p_block = preferred;
        return PROV_STORAGE_OK;
    }
    any = esp_efuse_find_unused_key_block();
    if (any == EFUSE_BLK_KEY_MAX) {
        ESP_LOGE(TAG, "no unused eFuse key block left for a new DS key");
        return PROV_STORAGE_UNSUPPORTED;
    }
    *p_block = any;
    return PROV_STORAGE_OK;
}

typedef struct gen_job {
    uint8_t key_type;
    esp_efuse_block_t block;
    ds_record_t *p_rec;
} gen_job_t;

/* Runs in the key generation task: make, derive, encrypt, burn, wipe. */
static int generate_job(void *p_arg)
{
    gen_job_t *p_job = (gen_job_t *)p_arg;
    const unsigned bits = key_bits(p_job->key_type);
    esp_ds_p_data_t *p_plain = heap_caps_calloc(1, sizeof(esp_ds_p_data_t), MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    uint8_t *p_der = calloc(1, PROV_CRYPTO_PRIVATE_DER_MAX);
    uint8_t ref[PROV_CRYPTO_KEY_REF_MAX];
    uint8_t hmac_key[32];
    uint8_t iv[16];
    size_t ref_len = 0;
    size_t der_len = 0;
    size_t pub_len = 0;
    int st = (p_plain == NULL || p_der == NULL) ? PROV_STORAGE_IO : PROV_STORAGE_OK;
    esp_err_t err;

    /* key_id 0: a volatile key (PSA) that exists only until the operands are derived */
    if (st == PROV_STORAGE_OK) st = prov_crypto_key_generate(p_job->key_type, 0u, ref, sizeof(ref), &ref_len);
    if (st == PROV_STORAGE_OK) {
        st = prov_crypto_key_public(ref, ref_len, p_job->p_rec->pub, sizeof(p_job->p_rec->pub), &pub_len);
        p_job->p_rec->pub_len = (uint16_t)pub_len;
    }
    if (st == PROV_STORAGE_OK) st = prov_crypto_key_private_der(ref, ref_len, p_der, PROV_CRYPTO_PRIVATE_DER_MAX, &der_len);
    if (st == PROV_STORAGE_OK &&
        prov_ds_params_from_der(p_der, der_len, bits, p_plain->Y, p_plain->M, p_plain->Rb, &p_plain->M_prime) != 0) {
        st = PROV_STORAGE_CRYPTO;
    }
    p_plain->length = bits / 32u - 1u;
    if (st == PROV_STORAGE_OK && (prov_crypto_random(NULL, hmac_key, sizeof(hmac_key)) != 0 ||
                                  prov_crypto_random(NULL, iv, sizeof(iv)) != 0)) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st != PROV_STORAGE_OK) {
        ESP_LOGE(TAG, "RSA-%u generation failed: %d", bits, st);
    }
    if (st == PROV_STORAGE_OK) {
        err = esp_ds_encrypt_params(&p_job->p_rec->ds, iv, p_plain, hmac_key);
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "esp_ds_encrypt_params: %s", esp_err_to_name(err));
            st = PROV_STORAGE_CRYPTO;
        }
    }
    if (st == PROV_STORAGE_OK) {
        /* Irreversible: the block becomes read-protected with this purpose. */
        err = esp_efuse_write_key(p_job->block, ESP_EFUSE_KEY_PURPOSE_HMAC_DOWN_DIGITAL_SIGNATURE, hmac_key,
                                  sizeof(hmac_key));
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "esp_efuse_write_key(block %d): %s", (int)p_job->block, esp_err_to_name(err));
            st = PROV_STORAGE_IO;
        }
    }
    p_job->p_rec->key_type = p_job->key_type;
    p_job->p_rec->efuse_key_id = (uint8_t)(p_job->block - EFUSE_BLK_KEY0);
    /* From here on only the ciphertext exists. */
    (void)prov_crypto_key_destroy(ref, ref_len);
    mbedtls_platform_zeroize(ref, sizeof(ref));
    mbedtls_platform_zeroize(hmac_key, sizeof(hmac_key));
    if (p_der != NULL) {
        mbedtls_platform_zeroize(p_der, PROV_CRYPTO_PRIVATE_DER_MAX);
        free(p_der);
    }
    if (p_plain != NULL) {
        mbedtls_platform_zeroize(p_plain, sizeof(*p_plain));
        free(p_plain);
    }
    return st;
}

static int ds_generate(void *p_ctx, prov_key_slot_t slot, uint8_t key_type)
{
    gen_job_t job = {.key_type = key_type};
    int st;

    (void)p_ctx;
    if (!prov_port_key_type_supported(key_type) || (key_type != PROV_KEY_RSA_2048 && key_type != PROV_KEY_RSA_3072)) {
        return PROV_STORAGE_UNSUPPORTED; /* the DS peripheral is RSA only */
    }
    st = pick_key_block(&job.block);
    if (st != PROV_STORAGE_OK) {
        return st;
    }
    job.p_rec = record_alloc();
    if (job.p_rec == NULL) {
        return PROV_STORAGE_IO;
    }
    st = prov_port_keygen_run(generate_job, &job);
    if (st == PROV_STORAGE_OK) {
        st = prov_ks_slots_write(&SLOTS, slot, job.p_rec, sizeof(*job.p_rec));
    }
    free(job.p_rec);
    return st;
}

static int ds_public_key(void *p_ctx, prov_key_slot_t slot, uint8_t *p_out, size_t out_size, size_t *p_out_len)
{
    ds_record_t *p_rec = record_alloc();
    int st = (p_rec == NULL) ? PROV_STORAGE_IO : load_record(slot, p_rec);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        if (p_rec->pub_len > out_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_out, p_rec->pub, p_rec->pub_len);
            *p_out_len = p_rec->pub_len;
        }
    }
    free(p_rec);
    return st;
}

#if PROV_CRYPTO_USE_PSA
/* ESP-IDF v6: the DS peripheral through ESP-IDF's PSA driver, the way esp-tls signs the handshake. */
static int ds_sign(ds_record_t *p_rec, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size, size_t *p_sig_len)
{
    const psa_algorithm_t alg = PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256);
    esp_ds_data_ctx_t ctx = {.esp_ds_data = &p_rec->ds,
                             .efuse_key_id = p_rec->efuse_key_id,
                             .rsa_length_bits = (uint16_t)key_bits(p_rec->key_type)};
    esp_rsa_ds_opaque_key_t opaque;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id = 0;
    psa_status_t s;

    memset(&opaque, 0, sizeof(opaque));
    opaque.ds_data_ctx = &ctx;
    psa_set_key_type(&attr, PSA_KEY_TYPE_RSA_KEY_PAIR);
    psa_set_key_bits(&attr, ctx.rsa_length_bits);
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
    psa_set_key_algorithm(&attr, alg);
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_ESP_RSA_DS_VOLATILE);
    s = psa_import_key(&attr, (const uint8_t *)&opaque, sizeof(opaque), &id);
    psa_reset_key_attributes(&attr);
    if (s == PSA_SUCCESS) {
        s = psa_sign_hash(id, alg, hash, 32u, p_sig, sig_size, p_sig_len);
        (void)psa_destroy_key(id);
    }
    if (s != PSA_SUCCESS) {
        ESP_LOGE(TAG, "DS signature through PSA failed: %d", (int)s);
    }
    return (s == PSA_SUCCESS) ? PROV_STORAGE_OK
           : (s == PSA_ERROR_BUFFER_TOO_SMALL) ? PROV_STORAGE_TOO_LARGE : PROV_STORAGE_CRYPTO;
}
#else
/* DigestInfo prefix of SHA-256 for PKCS#1 v1.5 (RFC 8017 section 9.2, note 1). */
static const uint8_t SHA256_DIGEST_INFO[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                             0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

static void reverse_copy(uint8_t *p_dst, const uint8_t *p_src, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        p_dst[i] = p_src[len - 1u - i];
    }
}

/* ESP-IDF v5: esp_ds_sign() on an EMSA-PKCS1-v1_5 block of ours (the peripheral applies no padding). */
static int ds_sign(ds_record_t *p_rec, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size, size_t *p_sig_len)
{
    const size_t k = ((size_t)p_rec->ds.rsa_length + 1u) * 4u;
    uint8_t *p_em = NULL;
    uint8_t *p_le = NULL;
    size_t pad;
    int st = (k > sig_size) ? PROV_STORAGE_TOO_LARGE : PROV_STORAGE_OK;
    esp_err_t err;

    if (st == PROV_STORAGE_OK) {
        p_em = calloc(1, k);
        p_le = heap_caps_calloc(1, k, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
        if (p_em == NULL || p_le == NULL) {
            st = PROV_STORAGE_IO;
        }
    }
    if (st == PROV_STORAGE_OK) {
        /* 00 01 FF..FF 00 DigestInfo hash */
        pad = k - 3u - sizeof(SHA256_DIGEST_INFO) - 32u;
        p_em[0] = 0x00u;
        p_em[1] = 0x01u;
        memset(p_em + 2, 0xFF, pad);
        p_em[2u + pad] = 0x00u;
        memcpy(p_em + 3u + pad, SHA256_DIGEST_INFO, sizeof(SHA256_DIGEST_INFO));
        memcpy(p_em + 3u + pad + sizeof(SHA256_DIGEST_INFO), hash, 32u);
        reverse_copy(p_le, p_em, k);
        err = esp_ds_sign(p_le, &p_rec->ds, (hmac_key_id_t)p_rec->efuse_key_id, p_em);
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "esp_ds_sign: %s", esp_err_to_name(err));
            st = PROV_STORAGE_CRYPTO;
        } else {
            reverse_copy(p_sig, p_em, k);
            *p_sig_len = k;
        }
    }
    free(p_em);
    free(p_le);
    return st;
}
#endif

static int ds_sign_sha256(void *p_ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size,
                          size_t *p_sig_len)
{
    ds_record_t *p_rec = record_alloc();
    int st = (p_rec == NULL) ? PROV_STORAGE_IO : load_record(slot, p_rec);

    (void)p_ctx;
    if (st == PROV_STORAGE_OK) {
        st = ds_sign(p_rec, hash, p_sig, sig_size, p_sig_len);
    }
    free(p_rec);
    return st;
}

static int ds_promote_pending(void *p_ctx)
{
    (void)p_ctx;
    return prov_ks_slots_promote(&SLOTS);
}

static int ds_destroy(void *p_ctx, prov_key_slot_t slot)
{
    (void)p_ctx;
    /* Without its ciphertext the burnt HMAC key signs nothing. */
    return prov_ks_slots_destroy(&SLOTS, slot);
}

static const prov_keystore_t OPS = {
    .key_type = ds_key_type,
    .generate = ds_generate,
    .public_key = ds_public_key,
    .sign_sha256 = ds_sign_sha256,
    .promote_pending = ds_promote_pending,
    .destroy = ds_destroy,
};

int prov_port_keystore_init(prov_keystore_t *p_out)
{
    prov_port_keystore_fill(p_out, &OPS);
    return 0;
}

int prov_port_key_get(provision_key_t *p_key)
{
    ds_record_t *p_rec = record_alloc();
    int st = (p_rec == NULL) ? PROV_STORAGE_IO : load_record(PROV_KEY_SLOT_ACTIVE, p_rec);

    memset(p_key, 0, sizeof(*p_key));
    if (st == PROV_STORAGE_OK) {
        /* A new context each time: a client started earlier may still hold the old one. */
        free(s_tls_ds);
        s_tls_ds = heap_caps_malloc(sizeof(esp_ds_data_t), MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
        if (s_tls_ds == NULL) {
            st = PROV_STORAGE_IO;
        } else {
            memcpy(s_tls_ds, &p_rec->ds, sizeof(esp_ds_data_t));
            s_tls_ctx.esp_ds_data = s_tls_ds;
            s_tls_ctx.efuse_key_id = p_rec->efuse_key_id;
            s_tls_ctx.rsa_length_bits = (uint16_t)key_bits(p_rec->key_type);
            p_key->kind = PROVISION_KEY_DS;
            p_key->key_type = prov_port_key_type_name(p_rec->key_type);
            p_key->p_ds_data = &s_tls_ctx;
        }
    }
    free(p_rec);
    return st;
}

int prov_port_key_export_der(provision_key_t *p_key)
{
    (void)p_key;
    return PROV_STORAGE_UNSUPPORTED; /* the key exists only as the DS peripheral's ciphertext */
}

void prov_port_key_free(provision_key_t *p_key)
{
    /* The ciphertext is not secret; esp-tls may still hold the context, so it stays allocated. */
    memset(p_key, 0, sizeof(*p_key));
}
