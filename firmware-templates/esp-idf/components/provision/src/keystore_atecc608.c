/*
 * Key store "atecc608": a P-256 key inside a Microchip ATECC608 secure
 * element, through esp-cryptoauthlib. The private key never exists outside
 * the chip; signing is atcab_sign on the slot.
 *
 * Trust&Go parts (M5Stack Core2 for AWS IoT) come with the slot's key
 * generated inside the chip at Microchip and the slot locked against GenKey:
 * GENERATE_KEY then *adopts* that key (reads its public key, records that it
 * is in use) instead of making one. TrustFLEX/TrustCUSTOM parts get a fresh
 * key with atcab_genkey. There is one identity slot: a rotation (PENDING
 * slot) is refused as unsupported.
 *
 * NVS (namespace "prov_se") keeps one u8 "inuse" flag: the chip cannot say
 * whether the provisioning flow has taken its key (and the namespace's
 * layout version, nvs_layout.c).
 */
#include <string.h>

#include "cryptoauthlib.h"
#include "esp_log.h"
#include "nvs.h"

#include "port.h"
#include "prov/codes.h"

#define NS "prov_se"
#define INUSE_KEY "inuse"
#define P256_COORD_BYTES 32u

static const char *TAG = "prov_ks_atecc";
static bool s_ready;

/* SubjectPublicKeyInfo header of an uncompressed P-256 key (id-ecPublicKey, prime256v1). */
static const uint8_t P256_SPKI_HEADER[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE,
                                           0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D,
                                           0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

static int get_inuse(uint8_t *p_inuse)
{
    nvs_handle_t h;
    esp_err_t err;

    *p_inuse = 0u;
    if (prov_port_layout_check(NS) != PROV_STORAGE_OK) {
        return PROV_STORAGE_UNSUPPORTED;
    }
    if (nvs_open(NS, NVS_READONLY, &h) != ESP_OK) {
        return PROV_STORAGE_OK;
    }
    err = nvs_get_u8(h, INUSE_KEY, p_inuse);
    nvs_close(h);
    return (err == ESP_OK || err == ESP_ERR_NVS_NOT_FOUND) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int set_inuse(uint8_t inuse)
{
    nvs_handle_t h;
    esp_err_t err;

    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    err = (prov_port_layout_mark(h) == PROV_STORAGE_OK) ? nvs_set_u8(h, INUSE_KEY, inuse) : ESP_FAIL;
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    nvs_close(h);
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int se_key_type(void *p_ctx, prov_key_slot_t slot, uint8_t *p_key_type)
{
    uint8_t inuse = 0;
    int st;

    (void)p_ctx;
    if (slot != PROV_KEY_SLOT_ACTIVE) {
        return PROV_STORAGE_NOT_FOUND;
    }
    st = get_inuse(&inuse);
    if (st == PROV_STORAGE_OK && inuse == 0u) {
        st = PROV_STORAGE_NOT_FOUND;
    }
    if (st == PROV_STORAGE_OK) {
        *p_key_type = PROV_KEY_EC_P256;
    }
    return st;
}

static int se_generate(void *p_ctx, prov_key_slot_t slot, uint8_t key_type)
{
    uint8_t pub[64];
    ATCA_STATUS rc;

    (void)p_ctx;
    if (slot != PROV_KEY_SLOT_ACTIVE || key_type != PROV_KEY_EC_P256) {
        return PROV_STORAGE_UNSUPPORTED;
    }
    if (!s_ready) {
        return PROV_STORAGE_IO;
    }
#if PROV_ATECC_TRUST_AND_GO
    /* The key exists since manufacturing; reading its public key proves the slot works. */
    rc = atcab_get_pubkey(PROV_ATECC_SLOT, pub);
#else
    /* GenKey runs inside the chip (about 100 ms): no key generation task needed. */
    rc = atcab_genkey(PROV_ATECC_SLOT, pub);
#endif
    if (rc != ATCA_SUCCESS) {
        ESP_LOGE(TAG, "slot %d: %s failed: 0x%02x", PROV_ATECC_SLOT,
                 PROV_ATECC_TRUST_AND_GO ? "atcab_get_pubkey" : "atcab_genkey", (unsigned)rc);
        return PROV_STORAGE_CRYPTO;
    }
    return set_inuse(1u);
}

static int se_public_key(void *p_ctx, prov_key_slot_t slot, uint8_t *p_out, size_t out_size, size_t *p_out_len)
{
    uint8_t key_type = 0;
    int st = se_key_type(p_ctx, slot, &key_type);
    const size_t total = sizeof(P256_SPKI_HEADER) + 2u * P256_COORD_BYTES;

    if (st == PROV_STORAGE_OK && out_size < total) {
        st = PROV_STORAGE_TOO_LARGE;
    }
    if (st == PROV_STORAGE_OK) {
        if (atcab_get_pubkey(PROV_ATECC_SLOT, p_out + sizeof(P256_SPKI_HEADER)) != ATCA_SUCCESS) {
            st = PROV_STORAGE_IO;
        } else {
            memcpy(p_out, P256_SPKI_HEADER, sizeof(P256_SPKI_HEADER));
            *p_out_len = total;
        }
    }
    return st;
}

/* One DER INTEGER of a 32-byte unsigned big-endian value: leading zeros dropped, 0x00 added before a high bit. */
static size_t der_integer(uint8_t *p_out, const uint8_t *p_value)
{
    size_t skip = 0;
    size_t len;
    size_t pos = 0;

    while (skip < P256_COORD_BYTES - 1u && p_value[skip] == 0u) {
        skip++;
    }
    len = P256_COORD_BYTES - skip;
    p_out[pos++] = 0x02u;
    if (p_value[skip] & 0x80u) {
        p_out[pos++] = (uint8_t)(len + 1u);
        p_out[pos++] = 0x00u;
    } else {
        p_out[pos++] = (uint8_t)len;
    }
    memcpy(p_out + pos, p_value + skip, len);
    return pos + len;
}

static int se_sign_sha256(void *p_ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *p_sig, size_t sig_size,
                          size_t *p_sig_len)
{
    uint8_t raw[64];
    uint8_t body[2u * (3u + P256_COORD_BYTES)];
    uint8_t key_type = 0;
    size_t body_len;
    int st = se_key_type(p_ctx, slot, &key_type);

    if (st == PROV_STORAGE_OK && atcab_sign(PROV_ATECC_SLOT, hash, raw) != ATCA_SUCCESS) {
        st = PROV_STORAGE_CRYPTO;
    }
    if (st == PROV_STORAGE_OK) {
        /* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }; at most 72 bytes, so a short length. */
        body_len = der_integer(body, raw);
        body_len += der_integer(body + body_len, raw + P256_COORD_BYTES);
        if (body_len + 2u > sig_size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            p_sig[0] = 0x30u;
            p_sig[1] = (uint8_t)body_len;
            memcpy(p_sig + 2, body, body_len);
            *p_sig_len = body_len + 2u;
        }
    }
    return st;
}

static int se_promote_pending(void *p_ctx)
{
    (void)p_ctx;
    return PROV_STORAGE_NOT_FOUND; /* never a pending key */
}

static int se_destroy(void *p_ctx, prov_key_slot_t slot)
{
    (void)p_ctx;
    if (slot != PROV_KEY_SLOT_ACTIVE) {
        return PROV_STORAGE_OK;
    }
    /* The chip cannot erase a key; a Trust&Go key stays and is adopted again. */
    return set_inuse(0u);
}

static const prov_keystore_t OPS = {
    .key_type = se_key_type,
    .generate = se_generate,
    .public_key = se_public_key,
    .sign_sha256 = se_sign_sha256,
    .promote_pending = se_promote_pending,
    .destroy = se_destroy,
};

int prov_port_keystore_init(prov_keystore_t *p_out)
{
    ATCA_STATUS rc;

    prov_port_keystore_fill(p_out, &OPS);

    /* esp-cryptoauthlib's default I2C config; pins come from sdkconfig (CONFIG_ATCA_I2C_*). */
    cfg_ateccx08a_i2c_default.atcai2c.address = PROV_ATECC_ADDRESS_8BIT;
    cfg_ateccx08a_i2c_default.atcai2c.bus = PROV_ATECC_I2C_PORT;
    rc = atcab_init(&cfg_ateccx08a_i2c_default);
    s_ready = (rc == ATCA_SUCCESS);
    if (!s_ready) {
        ESP_LOGE(TAG, "ATECC608 not answering at 0x%02x (SDA %d, SCL %d): 0x%02x", PROV_ATECC_ADDRESS_8BIT,
                 PROV_ATECC_SDA_PIN, PROV_ATECC_SCL_PIN, (unsigned)rc);
        return -1;
    }
    return 0;
}

int prov_port_key_get(provision_key_t *p_key)
{
    uint8_t key_type = 0;
    int st = se_key_type(NULL, PROV_KEY_SLOT_ACTIVE, &key_type);

    memset(p_key, 0, sizeof(*p_key));
    if (st == PROV_STORAGE_OK) {
        /* esp-tls signs the handshake in the secure element (slot 0; see docs/firmware.md). */
        p_key->kind = PROVISION_KEY_SECURE_ELEMENT;
        p_key->key_type = prov_port_key_type_name(key_type);
        p_key->secure_element.slot = (uint8_t)PROV_ATECC_SLOT;
        p_key->secure_element.i2c_address = (uint8_t)PROV_ATECC_ADDRESS_8BIT;
        p_key->secure_element.trust_and_go = PROV_ATECC_TRUST_AND_GO;
    }
    return st;
}

int prov_port_key_export_der(provision_key_t *p_key)
{
    (void)p_key;
    return PROV_STORAGE_UNSUPPORTED; /* the key never leaves the secure element */
}

void prov_port_key_free(provision_key_t *p_key)
{
    memset(p_key, 0, sizeof(*p_key));
}
