/*
 * Credential store on NVS.
 *
 * Staging lives in RAM only (it must not survive a restart). COMMIT writes
 * the staged payload as a new record into the slot that is NOT current
 * ("s0"/"s1": [generation u32 BE][SHA-256 of payload][payload]), commits,
 * and only then flips the u8 "cur" index and commits again: one NVS write
 * switches sets, so a power loss leaves the old or the new one. Reads check
 * the record's SHA-256, so a torn or corrupted record reads as IO, never as
 * a wrong set. The namespace's layout version (nvs_layout.c) is checked
 * before a read or a commit and written with the switch.
 */
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "mbedtls/platform_util.h"
#include "nvs.h"

#include "port.h"
#include "prov/crypto.h"
#include "prov/config.h"

#define NS "prov_cred"
#define CUR_KEY "cur"
#define LOCK_KEY "lock"
#define CUR_NONE 0xFFu
#define RECORD_HEADER_BYTES (4u + 32u)

static const char *TAG = "prov_cred";

static uint8_t *s_staged;
static size_t s_staged_len;
/* Set by a successful COMMIT, taken by the agent once the whole COMMIT is handled. */
static bool s_committed;
static uint32_t s_committed_generation;

static const char *record_name(unsigned index)
{
    return (index == 0u) ? "s0" : "s1";
}

static int cs_stage(void *p_ctx, const uint8_t *p_payload, size_t len)
{
    uint8_t *p_copy;

    (void)p_ctx;
    if (len > PROV_DEVICE_PAYLOAD_MAX) {
        return PROV_STORAGE_TOO_LARGE;
    }
    p_copy = malloc(len == 0u ? 1u : len);
    if (p_copy == NULL) {
        return PROV_STORAGE_IO;
    }
    memcpy(p_copy, p_payload, len);
    if (s_staged != NULL) {
        mbedtls_platform_zeroize(s_staged, s_staged_len); /* may hold a Wi-Fi password */
        free(s_staged);
    }
    s_staged = p_copy;
    s_staged_len = len;
    return PROV_STORAGE_OK;
}

static int cs_discard_staged(void *p_ctx)
{
    (void)p_ctx;
    if (s_staged != NULL) {
        mbedtls_platform_zeroize(s_staged, s_staged_len);
        free(s_staged);
    }
    s_staged = NULL;
    s_staged_len = 0;
    return PROV_STORAGE_OK;
}

static int get_cur(nvs_handle_t h, uint8_t *p_cur)
{
    esp_err_t err = nvs_get_u8(h, CUR_KEY, p_cur);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        *p_cur = CUR_NONE;
        return PROV_STORAGE_OK;
    }
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

/* Reads and verifies the current record into a heap buffer (caller frees). */
static int load_current(nvs_handle_t h, uint8_t **pp_rec, size_t *p_len)
{
    uint8_t cur = CUR_NONE;
    uint8_t digest[32];
    size_t len = 0;
    uint8_t *p_rec;
    int st = prov_port_layout_check(NS);

    if (st == PROV_STORAGE_OK) {
        st = get_cur(h, &cur);
    }
    if (st != PROV_STORAGE_OK) {
        return st;
    }
    if (cur > 1u) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (nvs_get_blob(h, record_name(cur), NULL, &len) != ESP_OK || len < RECORD_HEADER_BYTES) {
        return PROV_STORAGE_IO;
    }
    p_rec = malloc(len);
    if (p_rec == NULL) {
        return PROV_STORAGE_IO;
    }
    if (nvs_get_blob(h, record_name(cur), p_rec, &len) != ESP_OK ||
        prov_crypto_sha256(p_rec + RECORD_HEADER_BYTES, len - RECORD_HEADER_BYTES, digest) != 0 ||
        memcmp(digest, p_rec + 4, 32u) != 0) {
        ESP_LOGE(TAG, "committed record %s is unreadable or corrupt", record_name(cur));
        free(p_rec);
        return PROV_STORAGE_IO;
    }
    *pp_rec = p_rec;
    *p_len = len;
    return PROV_STORAGE_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int cs_commit(void *p_ctx, uint32_t *p_generation)
{
    nvs_handle_t h;
    uint8_t cur = CUR_NONE;
    uint8_t *p_old = NULL;
    uint8_t *p_rec = NULL;
    size_t old_len = 0;
    uint32_t generation = 1u;
    unsigned target;
    int st;

    (void)p_ctx;
    if (s_staged == NULL) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    st = prov_port_layout_check(NS);
    if (st == PROV_STORAGE_OK) {
        st = get_cur(h, &cur);
    }
    if (st == PROV_STORAGE_OK && cur <= 1u && load_current(h, &p_old, &old_len) == PROV_STORAGE_OK) {
        generation = be32(p_old) + 1u;
    }
    free(p_old);
    target = (cur == 0u) ? 1u : 0u;
    if (st == PROV_STORAGE_OK) {
        p_rec = malloc(RECORD_HEADER_BYTES + s_staged_len);
        if (p_rec == NULL) {
            st = PROV_STORAGE_IO;
        }
    }
    if (st == PROV_STORAGE_OK) {
        p_rec[0] = (uint8_t)(generation >> 24);
        p_rec[1] = (uint8_t)(generation >> 16);
        p_rec[2] = (uint8_t)(generation >> 8);
        p_rec[3] = (uint8_t)generation;
        memcpy(p_rec + RECORD_HEADER_BYTES, s_staged, s_staged_len);
        if (prov_crypto_sha256(s_staged, s_staged_len, p_rec + 4) != 0) {
            st = PROV_STORAGE_IO;
        }
    }
    /* New record first, then the one-byte switch. */
    if (st == PROV_STORAGE_OK && (nvs_set_blob(h, record_name(target), p_rec, RECORD_HEADER_BYTES + s_staged_len) !=
                                      ESP_OK ||
                                  nvs_commit(h) != ESP_OK)) {
        st = PROV_STORAGE_IO;
    }
    if (st == PROV_STORAGE_OK && (prov_port_layout_mark(h) != PROV_STORAGE_OK ||
                                  nvs_set_u8(h, CUR_KEY, (uint8_t)target) != ESP_OK || nvs_commit(h) != ESP_OK)) {
        st = PROV_STORAGE_IO;
    }
    if (st == PROV_STORAGE_OK) {
        *p_generation = generation;
        s_committed = true;
        s_committed_generation = generation;
        (void)cs_discard_staged(NULL);
    }
    if (p_rec != NULL) {
        mbedtls_platform_zeroize(p_rec, RECORD_HEADER_BYTES + s_staged_len);
        free(p_rec);
    }
    nvs_close(h);
    return st;
}

static int cs_read_committed(void *p_ctx, uint8_t *p_buf, size_t size, size_t *p_len, uint32_t *p_generation)
{
    nvs_handle_t h;
    uint8_t *p_rec = NULL;
    size_t len = 0;
    int st;

    (void)p_ctx;
    if (nvs_open(NS, NVS_READONLY, &h) != ESP_OK) {
        return PROV_STORAGE_NOT_FOUND;
    }
    st = load_current(h, &p_rec, &len);
    nvs_close(h);
    if (st == PROV_STORAGE_OK) {
        if (len - RECORD_HEADER_BYTES > size) {
            st = PROV_STORAGE_TOO_LARGE;
        } else {
            memcpy(p_buf, p_rec + RECORD_HEADER_BYTES, len - RECORD_HEADER_BYTES);
            *p_len = len - RECORD_HEADER_BYTES;
            *p_generation = be32(p_rec);
        }
        mbedtls_platform_zeroize(p_rec, len);
    }
    free(p_rec);
    return st;
}

static int cs_erase(void *p_ctx)
{
    nvs_handle_t h;
    esp_err_t err;

    prov_port_app_withdraw(); /* FACTORY_RESET: the product stops using what is about to go */
    (void)cs_discard_staged(p_ctx);
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    err = nvs_erase_all(h);
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    nvs_close(h);
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int cs_set_locked(void *p_ctx)
{
    nvs_handle_t h;
    esp_err_t err;

    (void)p_ctx;
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    err = nvs_set_u8(h, LOCK_KEY, 1u);
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    nvs_close(h);
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int cs_is_locked(void *p_ctx)
{
    nvs_handle_t h;
    uint8_t locked = 0;
    esp_err_t err;

    (void)p_ctx;
    if (nvs_open(NS, NVS_READONLY, &h) != ESP_OK) {
        return 0;
    }
    err = nvs_get_u8(h, LOCK_KEY, &locked);
    nvs_close(h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return 0;
    }
    return (err == ESP_OK) ? (locked != 0u) : PROV_STORAGE_IO;
}

bool prov_port_credstore_take_commit(uint32_t *p_generation)
{
    const bool committed = s_committed;

    if (committed) {
        *p_generation = s_committed_generation;
        s_committed = false;
    }
    return committed;
}

void prov_port_credstore_init(prov_credstore_t *p_out)
{
    memset(p_out, 0, sizeof(*p_out));
    p_out->stage = cs_stage;
    p_out->discard_staged = cs_discard_staged;
    p_out->commit = cs_commit;
    p_out->read_committed = cs_read_committed;
    p_out->erase = cs_erase;
    p_out->set_locked = cs_set_locked;
    p_out->is_locked = cs_is_locked;
}
