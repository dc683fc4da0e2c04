/*
 * crypto_psa.c - prov/crypto.h on the PSA Crypto API (Mbed TLS 4 /
 * TF-PSA-Crypto, ESP-IDF v6). A key reference is a 4-byte key id (big
 * endian); persistent keys live in PSA's storage (PSA ITS, in NVS on
 * ESP-IDF), never in our buffers except when the device's own TLS client
 * needs the DER (prov_crypto_key_private_der).
 */
#include "prov/crypto.h"

#if PROV_CRYPTO_USE_PSA

#include <string.h>

#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/psa_util.h"
#include "prov/codes.h"
#include "prov/config.h"
#include "prov/storage_status.h"
#include "spki.h"
#include "psa/crypto.h"

#define KEY_REF_BYTES 4u

int prov_crypto_init(void)
{
    return (psa_crypto_init() == PSA_SUCCESS) ? 0 : -1;
}

int prov_crypto_random(void *p_ctx, unsigned char *p_out, size_t len)
{
    (void)p_ctx;
    return (psa_generate_random(p_out, len) == PSA_SUCCESS) ? 0 : -1;
}

int prov_crypto_sha256(const uint8_t *p_data, size_t len, uint8_t digest[32])
{
    size_t n = 0;
    psa_status_t s = psa_hash_compute(PSA_ALG_SHA_256, p_data, len, digest, 32u, &n);
    return (s == PSA_SUCCESS && n == 32u) ? 0 : -1;
}

static int id_of(const uint8_t *p_ref, size_t ref_len, mbedtls_svc_key_id_t *p_id)
{
    if (ref_len != KEY_REF_BYTES) {
        return PROV_STORAGE_CRYPTO;
    }
    *p_id = mbedtls_svc_key_id_make(0, ((uint32_t)p_ref[0] << 24) | ((uint32_t)p_ref[1] << 16) |
                                           ((uint32_t)p_ref[2] << 8) | (uint32_t)p_ref[3]);
    return PROV_STORAGE_OK;
}

static int status_of(psa_status_t s)
{
    if (s == PSA_SUCCESS) {
        return PROV_STORAGE_OK;
    }
    if (s == PSA_ERROR_INVALID_HANDLE || s == PSA_ERROR_DOES_NOT_EXIST) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (s == PSA_ERROR_BUFFER_TOO_SMALL) {
        return PROV_STORAGE_TOO_LARGE;
    }
    if (s == PSA_ERROR_STORAGE_FAILURE || s == PSA_ERROR_INSUFFICIENT_STORAGE) {
        return PROV_STORAGE_IO;
    }
    return PROV_STORAGE_CRYPTO;
}

/* The key's wire type, and the signature algorithm the provisioning flow uses with it. */
static int describe(mbedtls_svc_key_id_t id, uint8_t *p_type, psa_algorithm_t *p_alg, size_t *p_bits)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    int st = status_of(psa_get_key_attributes(id, &attr));
    psa_key_type_t type = psa_get_key_type(&attr);
    size_t bits = psa_get_key_bits(&attr);

    if (st == PROV_STORAGE_OK) {
        if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1) && (bits == 256u || bits == 384u)) {
            *p_type = (bits == 256u) ? PROV_KEY_EC_P256 : PROV_KEY_EC_P384;
            *p_alg = PSA_ALG_ECDSA(PSA_ALG_SHA_256);
        } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && (bits == 2048u || bits == 3072u)) {
            *p_type = (bits == 2048u) ? PROV_KEY_RSA_2048 : PROV_KEY_RSA_3072;
            *p_alg = PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256);
        } else {
            st = PROV_STORAGE_CRYPTO;
        }
        *p_bits = bits;
    }
    psa_reset_key_attributes(&attr);
    return st;
}

int prov_crypto_key_generate(uint8_t key_type, uint32_t key_id, uint8_t *p_ref, size_t ref_size, size_t *p_ref_len)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    mbedtls_svc_key_id_t id = mbedtls_svc_key_id_make(0, key_id);
    int st = PROV_STORAGE_OK;

    if (ref_size < KEY_REF_BYTES) {
        return PROV_STORAGE_TOO_LARGE;
    }
    switch (key_type) {
    case PROV_KEY_EC_P256:
    case PROV_KEY_EC_P384:
        psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&attr, (key_type == PROV_KEY_EC_P256) ? 256u : 384u);
        psa_set_key_algorithm(&attr, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
        break;
    case PROV_KEY_RSA_2048:
    case PROV_KEY_RSA_3072:
        psa_set_key_type(&attr, PSA_KEY_TYPE_RSA_KEY_PAIR);
        psa_set_key_bits(&attr, (key_type == PROV_KEY_RSA_2048) ? 2048u : 3072u);
        psa_set_key_algorithm(&attr, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256));
        break;
    default:
        st = PROV_STORAGE_UNSUPPORTED;
        break;
    }
    /* EXPORT: the device's own TLS client takes the key as DER (esp-tls has no key-id option). */
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_EXPORT);
    if (st == PROV_STORAGE_OK && key_id != 0u) {
        psa_set_key_id(&attr, id); /* makes it persistent */
        /* A key left under this id by an interrupted rotation: the store's map no longer points at it. */
        (void)psa_destroy_key(id);
    }
    if (st == PROV_STORAGE_OK) {
        st = status_of(psa_generate_key(&attr, &id));
    }
    if (st == PROV_STORAGE_OK) {
        uint32_t raw = MBEDTLS_SVC_KEY_ID_GET_KEY_ID(id);
        p_ref[0] = (uint8_t)(raw >> 24);
        p_ref[1] = (uint8_t)(raw >> 16);
        p_ref[2] = (uint8_t)(raw >> 8);
        p_ref[3] = (uint8_t)raw;
        *p_ref_len = KEY_REF_BYTES;
    }
    psa_reset_key_attributes(&attr);
    return st;
}

int prov_crypto_key_type(const uint8_t *p_ref, size_t ref_len, uint8_t *p_key_type)
{
    mbedtls_svc_key_id_t id;
    psa_algorithm_t alg = 0;
    size_t bits = 0;
    int st = id_of(p_ref, ref_len, &id);

    if (st == PROV_STORAGE_OK) {
        st = describe(id, p_key_type, &alg, &bits);
    }
    return st;
}

int prov_crypto_key_public(const uint8_t *p_ref, size_t ref_len, uint8_t *p_spki, size_t spki_size,
                           size_t *p_spki_len)
{
    mbedtls_svc_key_id_t id;
    mbedtls_pk_context pk;
    int st = id_of(p_ref, ref_len, &id);

    mbedtls_pk_init(&pk);
    if (st == PROV_STORAGE_OK && mbedtls_pk_copy_public_from_psa(id, &pk) != 0) {
        uint8_t type = 0;
        psa_algorithm_t alg = 0;
        size_t bits = 0;
        st = describe(id, &type, &alg, &bits); /* tells NOT_FOUND from a failure */
        st = (st == PROV_STORAGE_OK) ? PROV_STORAGE_CRYPTO : st;
    }
    return prov_spki_take(st, &pk, p_spki, spki_size, p_spki_len);
}

int prov_crypto_key_sign_sha256(const uint8_t *p_ref, size_t ref_len, const uint8_t hash[32], uint8_t *p_sig,
                                size_t sig_size, size_t *p_sig_len)
{
    mbedtls_svc_key_id_t id;
    psa_algorithm_t alg = 0;
    uint8_t type = 0;
    size_t bits = 0;
    uint8_t raw[PROV_SIGNATURE_MAX];
    size_t raw_len = 0;
    int st = id_of(p_ref, ref_len, &id);

    if (st == PROV_STORAGE_OK) {
        st = describe(id, &type, &alg, &bits);
    }
    if (st == PROV_STORAGE_OK) {
        st = status_of(psa_sign_hash(id, alg, hash, 32u, raw, sizeof(raw), &raw_len));
    }
    if (st == PROV_STORAGE_OK && PSA_ALG_IS_ECDSA(alg)) {
        /* PSA gives r || s; X.509 wants the DER Ecdsa-Sig-Value */
        if (mbedtls_ecdsa_raw_to_der(bits, raw, raw_len, p_sig, sig_size, p_sig_len) != 0) {
            st = PROV_STORAGE_CRYPTO;
        }
    } else if (st == PROV_STORAGE_OK) {
        if (raw_len > sig_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_sig, raw, raw_len);
            *p_sig_len = raw_len;
        }
    }
    return st;
}

int prov_crypto_key_private_der(const uint8_t *p_ref, size_t ref_len, uint8_t *p_der, size_t der_size,
                                size_t *p_der_len)
{
    mbedtls_svc_key_id_t id;
    mbedtls_pk_context pk;
    int st = id_of(p_ref, ref_len, &id);
    int n = 0;

    mbedtls_pk_init(&pk);
    if (st == PROV_STORAGE_OK && mbedtls_pk_copy_from_psa(id, &pk) != 0) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st == PROV_STORAGE_OK) {
        /* SEC1 / PKCS#1 DER, written at the end of the buffer */
        n = mbedtls_pk_write_key_der(&pk, p_der, der_size);
        if (n <= 0) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memmove(p_der, p_der + der_size - (size_t)n, (size_t)n);
            *p_der_len = (size_t)n;
        }
    }
    mbedtls_pk_free(&pk);
    return st;
}

int prov_crypto_key_destroy(const uint8_t *p_ref, size_t ref_len)
{
    mbedtls_svc_key_id_t id;
    int st = id_of(p_ref, ref_len, &id);

    if (st == PROV_STORAGE_OK) {
        st = status_of(psa_destroy_key(id));
        st = (st == PROV_STORAGE_NOT_FOUND) ? PROV_STORAGE_OK : st;
    }
    return st;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int prov_crypto_psa_unused_t;
#endif /* PROV_CRYPTO_USE_PSA */
