/*
 * fake_keystore.h - the in-RAM key store of fake_ports.h: real mbedTLS keys
 * from a seeded DRBG, counting how often the core asks for a new one (a
 * duplicate GENERATE_KEY must not make a second key). Included by
 * fake_ports.h only.
 */
#ifndef PROV_TEST_FAKE_KEYSTORE_H
#define PROV_TEST_FAKE_KEYSTORE_H

/* ------------------------------------------------------------------ RNG */
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static int g_rng_ready;

static void fake_rng_init(void)
{
    if (!g_rng_ready) {
        mbedtls_entropy_init(&g_entropy);
        mbedtls_ctr_drbg_init(&g_drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
                                               (const unsigned char *)"fake", 4), 0);
        g_rng_ready = 1;
    }
}

/* ------------------------------------------------------------ key store */
static mbedtls_pk_context g_keys[2];
static uint8_t g_key_types[2];
static int g_generate_calls;
static const uint8_t g_supported_types[] = {1, 2, 3, 4};

static int ks_key_type(void *ctx, prov_key_slot_t slot, uint8_t *type)
{
    (void)ctx;
    if (g_key_types[slot] == 0u) {
        return PROV_STORAGE_NOT_FOUND;
    }
    *type = g_key_types[slot];
    return PROV_STORAGE_OK;
}

static int ks_generate(void *ctx, prov_key_slot_t slot, uint8_t type)
{
    mbedtls_pk_context *pk = &g_keys[slot];
    int ret = 0;
    (void)ctx;
    g_generate_calls++;
    mbedtls_pk_free(pk);
    mbedtls_pk_init(pk);
    g_key_types[slot] = 0;
    if (type == 1u || type == 2u) {
        ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (ret == 0) {
            ret = mbedtls_ecp_gen_key(type == 1u ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1,
                                      mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random, &g_drbg);
        }
    } else if (type == 3u || type == 4u) {
        ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        if (ret == 0) {
            ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), mbedtls_ctr_drbg_random, &g_drbg,
                                      type == 3u ? 2048u : 3072u, 65537);
        }
    } else {
        return PROV_STORAGE_UNSUPPORTED;
    }
    if (ret != 0) {
        return PROV_STORAGE_CRYPTO;
    }
    g_key_types[slot] = type;
    return PROV_STORAGE_OK;
}

static int ks_public_key(void *ctx, prov_key_slot_t slot, uint8_t *out, size_t size, size_t *len)
{
    unsigned char buf[PROV_PUBKEY_DER_MAX];
    int n = 0;
    (void)ctx;
    if (g_key_types[slot] == 0u) {
        return PROV_STORAGE_NOT_FOUND;
    }
    n = mbedtls_pk_write_pubkey_der(&g_keys[slot], buf, sizeof(buf));
    if (n <= 0) {
        return PROV_STORAGE_CRYPTO;
    }
    if ((size_t)n > size) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(out, buf + sizeof(buf) - (size_t)n, (size_t)n);
    *len = (size_t)n;
    return PROV_STORAGE_OK;
}

static int ks_sign(void *ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *sig, size_t size, size_t *len)
{
    unsigned char buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    (void)ctx;
    if (g_key_types[slot] == 0u) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (prov_pk_sign(&g_keys[slot], MBEDTLS_MD_SHA256, hash, 32u, buf, sizeof(buf), len, mbedtls_ctr_drbg_random,
                     &g_drbg) != 0) {
        return PROV_STORAGE_CRYPTO;
    }
    if (*len > size) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(sig, buf, *len);
    return PROV_STORAGE_OK;
}

static int ks_promote(void *ctx)
{
    (void)ctx;
    if (g_key_types[1] == 0u) {
        return PROV_STORAGE_NOT_FOUND;
    }
    mbedtls_pk_free(&g_keys[0]);
    g_keys[0] = g_keys[1];
    g_key_types[0] = g_key_types[1];
    mbedtls_pk_init(&g_keys[1]);
    g_key_types[1] = 0;
    return PROV_STORAGE_OK;
}

static int ks_destroy(void *ctx, prov_key_slot_t slot)
{
    (void)ctx;
    mbedtls_pk_free(&g_keys[slot]);
    mbedtls_pk_init(&g_keys[slot]);
    g_key_types[slot] = 0;
    return PROV_STORAGE_OK;
}

#endif
