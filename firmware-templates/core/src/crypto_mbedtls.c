/*
 * crypto_mbedtls.c - prov/crypto.h on Mbed TLS 2.28 / 3.x (the classic API).
 * A key reference is the private key DER; the store persists it.
 */
#include "prov/crypto.h"

#if !PROV_CRYPTO_USE_PSA

#include <string.h>

#include "mbedtls/asn1.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecp.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/rsa.h"
#include "prov/codes.h"
#include "prov/compat.h"
#include "prov/config.h"
#include "prov/storage_status.h"
#include "spki.h"

static mbedtls_entropy_context s_entropy;
static mbedtls_ctr_drbg_context s_drbg;
static int s_ready;

int prov_crypto_init(void)
{
    static const char personalisation[] = "provision";
    int rc = 0;

    if (!s_ready) {
        mbedtls_entropy_init(&s_entropy);
        mbedtls_ctr_drbg_init(&s_drbg);
        /* The platform's entropy source (the chip's RNG, /dev/urandom on a host) reseeds every request. */
        mbedtls_ctr_drbg_set_prediction_resistance(&s_drbg, MBEDTLS_CTR_DRBG_PR_ON);
        rc = mbedtls_ctr_drbg_seed(&s_drbg, mbedtls_entropy_func, &s_entropy, (const unsigned char *)personalisation,
                                   sizeof(personalisation) - 1u);
        s_ready = (rc == 0);
    }
    return s_ready ? 0 : -1;
}

int prov_crypto_random(void *p_ctx, unsigned char *p_out, size_t len)
{
    (void)p_ctx;
    return (s_ready || prov_crypto_init() == 0) ? mbedtls_ctr_drbg_random(&s_drbg, p_out, len) : -1;
}

int prov_crypto_sha256(const uint8_t *p_data, size_t len, uint8_t digest[32])
{
    return prov_sha256(p_data, len, digest);
}

static uint8_t type_of(mbedtls_pk_context *p_pk)
{
    uint8_t type = PROV_KEY_NONE;

    if (mbedtls_pk_get_type(p_pk) == MBEDTLS_PK_ECKEY) {
        mbedtls_ecp_group_id id = mbedtls_pk_ec(*p_pk)->MBEDTLS_PRIVATE(grp).id;
        type = (id == MBEDTLS_ECP_DP_SECP256R1) ? PROV_KEY_EC_P256
               : (id == MBEDTLS_ECP_DP_SECP384R1) ? PROV_KEY_EC_P384 : PROV_KEY_NONE;
    } else if (mbedtls_pk_get_type(p_pk) == MBEDTLS_PK_RSA) {
        size_t bits = mbedtls_pk_get_bitlen(p_pk);
        type = (bits == 2048u) ? PROV_KEY_RSA_2048 : (bits == 3072u) ? PROV_KEY_RSA_3072 : PROV_KEY_NONE;
    }
    return type;
}

/* Parses a reference; the caller frees p_pk. */
static int load(const uint8_t *p_ref, size_t ref_len, mbedtls_pk_context *p_pk)
{
    mbedtls_pk_init(p_pk);
    if (ref_len == 0u || prov_pk_parse_key(p_pk, p_ref, ref_len, prov_crypto_random, NULL) != 0 ||
        type_of(p_pk) == PROV_KEY_NONE) {
        return PROV_STORAGE_CRYPTO;
    }
    return PROV_STORAGE_OK;
}

int prov_crypto_key_generate(uint8_t key_type, uint32_t key_id, uint8_t *p_ref, size_t ref_size, size_t *p_ref_len)
{
    mbedtls_pk_context pk;
    int st = PROV_STORAGE_OK;
    int ret = 0;

    (void)key_id;
    mbedtls_pk_init(&pk);
    if (key_type == PROV_KEY_EC_P256 || key_type == PROV_KEY_EC_P384) {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (ret == 0) {
            ret = mbedtls_ecp_gen_key(key_type == PROV_KEY_EC_P256 ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1,
                                      mbedtls_pk_ec(pk), prov_crypto_random, NULL);
        }
    } else if (key_type == PROV_KEY_RSA_2048 || key_type == PROV_KEY_RSA_3072) {
        ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (ret == 0) {
            ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), prov_crypto_random, NULL,
                                      key_type == PROV_KEY_RSA_2048 ? 2048u : 3072u, 65537);
        }
    } else {
        st = PROV_STORAGE_UNSUPPORTED;
    }
    if (st == PROV_STORAGE_OK && ret != 0) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st == PROV_STORAGE_OK) {
        /* mbedtls_pk_write_key_der writes at the end of the buffer */
        ret = mbedtls_pk_write_key_der(&pk, p_ref, ref_size);
        if (ret <= 0) {
            st = (ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL) ? PROV_STORAGE_TOO_LARGE : PROV_STORAGE_CRYPTO;
        } else {
            memmove(p_ref, p_ref + ref_size - (size_t)ret, (size_t)ret);
            *p_ref_len = (size_t)ret;
        }
    }
    mbedtls_pk_free(&pk); /* zeroises the private key */
    return st;
}

int prov_crypto_key_type(const uint8_t *p_ref, size_t ref_len, uint8_t *p_key_type)
{
    mbedtls_pk_context pk;
    int st = load(p_ref, ref_len, &pk);

    if (st == PROV_STORAGE_OK) {
        *p_key_type = type_of(&pk);
    }
    mbedtls_pk_free(&pk);
    return st;
}

int prov_crypto_key_public(const uint8_t *p_ref, size_t ref_len, uint8_t *p_spki, size_t spki_size,
                           size_t *p_spki_len)
{
    mbedtls_pk_context pk;
    int st = load(p_ref, ref_len, &pk);

    return prov_spki_take(st, &pk, p_spki, spki_size, p_spki_len);
}

int prov_crypto_key_sign_sha256(const uint8_t *p_ref, size_t ref_len, const uint8_t hash[32], uint8_t *p_sig,
                                size_t sig_size, size_t *p_sig_len)
{
    mbedtls_pk_context pk;
    /* 2.28 insists on a MBEDTLS_PK_SIGNATURE_MAX_SIZE buffer whatever the key: sign there, then copy */
    unsigned char buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    int st = load(p_ref, ref_len, &pk);

    if (st == PROV_STORAGE_OK && prov_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32u, buf, sizeof(buf), &len,
                                              prov_crypto_random, NULL) != 0) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st == PROV_STORAGE_OK) {
        if (len > sig_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_sig, buf, len);
            *p_sig_len = len;
        }
    }
    mbedtls_pk_free(&pk);
    return st;
}

int prov_crypto_key_private_der(const uint8_t *p_ref, size_t ref_len, uint8_t *p_der, size_t der_size,
                                size_t *p_der_len)
{
    if (ref_len == 0u) {
        return PROV_STORAGE_CRYPTO;
    }
    if (ref_len > der_size) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(p_der, p_ref, ref_len);
    *p_der_len = ref_len;
    return PROV_STORAGE_OK;
}

int prov_crypto_key_destroy(const uint8_t *p_ref, size_t ref_len)
{
    (void)p_ref;
    (void)ref_len;
    return PROV_STORAGE_OK;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int prov_crypto_mbedtls_unused_t;
#endif /* !PROV_CRYPTO_USE_PSA */
