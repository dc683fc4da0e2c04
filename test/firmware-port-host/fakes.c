/*
 * Host stand-ins for the ESP-IDF services the port's storage code calls, so
 * keystore_nvs.c and keystore_ds.c (both with keystore_slots.c),
 * keystore_atecc608.c and credstore_nvs.c run here against real mbedTLS 2.28:
 *  - NVS: an in-memory (namespace, key) -> bytes map with NVS's semantics
 *    (read-only open of a missing namespace fails, blobs are copied);
 *  - eFuse: six key blocks that can be burnt once;
 *  - DS peripheral: esp_ds_encrypt_params keeps the plaintext parameters and
 *    esp_ds_sign computes msg^Y mod M from them, checking Rb and M' the way
 *    the hardware relies on them (little-endian words);
 *  - ATECC608: one P-256 key per slot made with mbedTLS, raw r||s signatures;
 *  - key generation task: runs the job inline.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/bignum.h"
#include "mbedtls/ecdsa.h"

#include "cryptoauthlib.h"
#include "esp_ds.h"
#include "esp_efuse.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "nvs.h"
#include "port.h"
#include "prov/crypto.h"

#include "fakes.h"

/* ---- log, errors, heap ---- */
void esp_log_write_stub(const char *tag, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%s] ", tag);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
const char *esp_err_to_name(esp_err_t code) { return code == ESP_OK ? "ESP_OK" : "ESP_FAIL"; }
void *heap_caps_calloc(size_t n, size_t size, uint32_t caps) { (void)caps; return calloc(n, size); }
void *heap_caps_malloc(size_t size, uint32_t caps) { (void)caps; return malloc(size); }

/* ---- key generation task: runs the job in place ---- */
int fake_keygen_runs;
/* The agent's bridge to the product: the credential store withdraws the set before a factory reset. */
int fake_withdrawals;
void prov_port_app_withdraw(void) { fake_withdrawals++; }

int prov_port_keygen_run(int (*fn)(void *arg), void *arg)
{
    fake_keygen_runs++;
    return fn(arg);
}

/* ---- NVS ---- */
#define NVS_MAX 64
typedef struct { char ns[16]; char key[16]; uint8_t *val; size_t len; int used; } nvs_entry_t;
static nvs_entry_t s_nvs[NVS_MAX];
static char s_handles[16][16];
static int s_nhandles;

static nvs_entry_t *find(const char *ns, const char *key)
{
    for (int i = 0; i < NVS_MAX; i++)
        if (s_nvs[i].used && strcmp(s_nvs[i].ns, ns) == 0 && strcmp(s_nvs[i].key, key) == 0) return &s_nvs[i];
    return NULL;
}
static int ns_exists(const char *ns)
{
    for (int i = 0; i < NVS_MAX; i++)
        if (s_nvs[i].used && strcmp(s_nvs[i].ns, ns) == 0) return 1;
    return 0;
}
esp_err_t nvs_open(const char *ns, nvs_open_mode_t mode, nvs_handle_t *out)
{
    if (strlen(ns) > 15) return ESP_FAIL;
    if (mode == NVS_READONLY && !ns_exists(ns)) return ESP_ERR_NVS_NOT_FOUND;
    snprintf(s_handles[s_nhandles % 16], 16, "%s", ns);
    *out = (nvs_handle_t)(s_nhandles++ % 16);
    return ESP_OK;
}
void nvs_close(nvs_handle_t h) { (void)h; }
static esp_err_t set(nvs_handle_t h, const char *key, const void *v, size_t len)
{
    nvs_entry_t *e = find(s_handles[h], key);
    if (strlen(key) > 15) return ESP_FAIL;
    if (e == NULL) {
        for (int i = 0; i < NVS_MAX && e == NULL; i++)
            if (!s_nvs[i].used) e = &s_nvs[i];
        if (e == NULL) return ESP_FAIL;
        e->used = 1;
        snprintf(e->ns, sizeof(e->ns), "%s", s_handles[h]);
        snprintf(e->key, sizeof(e->key), "%s", key);
    } else {
        free(e->val);
    }
    e->val = malloc(len ? len : 1);
    memcpy(e->val, v, len);
    e->len = len;
    return ESP_OK;
}
static esp_err_t get(nvs_handle_t h, const char *key, void *out, size_t *len)
{
    nvs_entry_t *e = find(s_handles[h], key);
    if (e == NULL) return ESP_ERR_NVS_NOT_FOUND;
    if (out == NULL) { *len = e->len; return ESP_OK; }
    if (*len < e->len) return ESP_FAIL; /* ESP_ERR_NVS_INVALID_LENGTH */
    memcpy(out, e->val, e->len);
    *len = e->len;
    return ESP_OK;
}
esp_err_t nvs_get_u8(nvs_handle_t h, const char *key, uint8_t *out) { size_t l = 1; return get(h, key, out, &l); }
esp_err_t nvs_set_u8(nvs_handle_t h, const char *key, uint8_t v) { return set(h, key, &v, 1); }
esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *len) { return get(h, key, out, len); }
esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *v, size_t len) { return set(h, key, v, len); }
esp_err_t nvs_erase_key(nvs_handle_t h, const char *key)
{
    nvs_entry_t *e = find(s_handles[h], key);
    if (e == NULL) return ESP_ERR_NVS_NOT_FOUND;
    free(e->val);
    memset(e, 0, sizeof(*e));
    return ESP_OK;
}
esp_err_t nvs_erase_all(nvs_handle_t h)
{
    for (int i = 0; i < NVS_MAX; i++)
        if (s_nvs[i].used && strcmp(s_nvs[i].ns, s_handles[h]) == 0) { free(s_nvs[i].val); memset(&s_nvs[i], 0, sizeof(s_nvs[i])); }
    return ESP_OK;
}
esp_err_t nvs_commit(nvs_handle_t h) { (void)h; return ESP_OK; }

uint8_t *fake_nvs_value(const char *ns, const char *key, size_t *len)
{
    nvs_entry_t *e = find(ns, key);
    if (e == NULL) return NULL;
    *len = e->len;
    return e->val;
}
int fake_nvs_count(const char *ns)
{
    int n = 0;
    for (int i = 0; i < NVS_MAX; i++) n += s_nvs[i].used && strcmp(s_nvs[i].ns, ns) == 0;
    return n;
}

/* ---- eFuse ---- */
static int s_burnt[6];
static uint8_t s_block_keys[6][32];
bool esp_efuse_key_block_unused(esp_efuse_block_t block) { return !s_burnt[block - EFUSE_BLK_KEY0]; }
esp_efuse_block_t esp_efuse_find_unused_key_block(void)
{
    for (int i = 0; i < 6; i++)
        if (!s_burnt[i]) return (esp_efuse_block_t)(EFUSE_BLK_KEY0 + i);
    return EFUSE_BLK_KEY_MAX;
}
esp_err_t esp_efuse_write_key(esp_efuse_block_t block, esp_efuse_purpose_t purpose, const void *key, size_t len)
{
    int i = block - EFUSE_BLK_KEY0;
    if (i < 0 || i > 5 || s_burnt[i] || len != 32 || purpose != ESP_EFUSE_KEY_PURPOSE_HMAC_DOWN_DIGITAL_SIGNATURE)
        return ESP_FAIL;
    s_burnt[i] = 1;
    memcpy(s_block_keys[i], key, 32);
    return ESP_OK;
}
int fake_efuse_burnt(int i) { return s_burnt[i]; }

/* ---- DS peripheral ---- */
typedef struct { esp_ds_p_data_t p; uint8_t key[32]; } fake_ds_plain_t;
_Static_assert(sizeof(fake_ds_plain_t) <= ESP_DS_C_LEN, "fake DS ciphertext fits");
int fake_ds_param_errors;

esp_err_t esp_ds_encrypt_params(esp_ds_data_t *data, const void *iv, const esp_ds_p_data_t *p_data, const void *key)
{
    fake_ds_plain_t plain;
    memcpy(&plain.p, p_data, sizeof(*p_data));
    memcpy(plain.key, key, 32);
    memcpy(data->c, &plain, sizeof(plain));
    memcpy(data->iv, iv, ESP_DS_IV_LEN);
    data->rsa_length = (esp_digital_signature_length_t)p_data->length;
    return ESP_OK;
}

esp_err_t esp_ds_sign(const void *message, const esp_ds_data_t *data, hmac_key_id_t key_id, void *signature)
{
    const fake_ds_plain_t *plain = (const fake_ds_plain_t *)data->c;
    size_t bytes = ((size_t)data->rsa_length + 1u) * 4u;
    mbedtls_mpi y, m, rb, msg, sig, rr, two32, t;
    uint32_t mprime_check;
    int rc = 0;

    /* The HMAC key in the named eFuse block must be the one the parameters were encrypted with. */
    if (key_id > 5 || !s_burnt[key_id] || memcmp(s_block_keys[key_id], plain->key, 32) != 0) return ESP_FAIL;
    mbedtls_mpi_init(&y); mbedtls_mpi_init(&m); mbedtls_mpi_init(&rb); mbedtls_mpi_init(&msg);
    mbedtls_mpi_init(&sig); mbedtls_mpi_init(&rr); mbedtls_mpi_init(&two32); mbedtls_mpi_init(&t);
    rc |= mbedtls_mpi_read_binary_le(&y, (const unsigned char *)plain->p.Y, bytes);
    rc |= mbedtls_mpi_read_binary_le(&m, (const unsigned char *)plain->p.M, bytes);
    rc |= mbedtls_mpi_read_binary_le(&rb, (const unsigned char *)plain->p.Rb, bytes);
    rc |= mbedtls_mpi_read_binary_le(&msg, message, bytes);
    /* Montgomery constants the hardware uses: Rb = 2^(2*bits) mod M, M' = -M^-1 mod 2^32. */
    rc |= mbedtls_mpi_lset(&rr, 1);
    rc |= mbedtls_mpi_shift_l(&rr, 2 * bytes * 8);
    rc |= mbedtls_mpi_mod_mpi(&rr, &rr, &m);
    if (mbedtls_mpi_cmp_mpi(&rr, &rb) != 0) fake_ds_param_errors++;
    rc |= mbedtls_mpi_lset(&two32, 1);
    rc |= mbedtls_mpi_shift_l(&two32, 32);
    rc |= mbedtls_mpi_mod_mpi(&t, &m, &two32);
    {
        uint32_t m_low = 0;
        rc |= mbedtls_mpi_write_binary_le(&t, (unsigned char *)&m_low, 4);
        mprime_check = (uint32_t)(m_low * plain->p.M_prime);
        if (mprime_check != 0xFFFFFFFFu) fake_ds_param_errors++;
    }
    rc |= mbedtls_mpi_exp_mod(&sig, &msg, &y, &m, NULL);
    rc |= mbedtls_mpi_write_binary_le(&sig, signature, bytes);
    mbedtls_mpi_free(&y); mbedtls_mpi_free(&m); mbedtls_mpi_free(&rb); mbedtls_mpi_free(&msg);
    mbedtls_mpi_free(&sig); mbedtls_mpi_free(&rr); mbedtls_mpi_free(&two32); mbedtls_mpi_free(&t);
    return rc == 0 ? ESP_OK : ESP_FAIL;
}

/* ---- ATECC608 ---- */
ATCAIfaceCfg cfg_ateccx08a_i2c_default = {.atcai2c = {.address = 0xC0}};
static mbedtls_ecdsa_context s_slots[16];
static int s_slot_has[16];
int fake_atecc_genkey_calls;

static ATCA_STATUS make_slot_key(uint16_t id)
{
    mbedtls_ecdsa_init(&s_slots[id]);
    if (mbedtls_ecdsa_genkey(&s_slots[id], MBEDTLS_ECP_DP_SECP256R1, prov_crypto_random, NULL) != 0) return 1;
    s_slot_has[id] = 1;
    return ATCA_SUCCESS;
}
void fake_atecc_factory_key(uint16_t id) { (void)make_slot_key(id); } /* Trust&Go: made at Microchip */
ATCA_STATUS atcab_init(ATCAIfaceCfg *cfg) { return (cfg->atcai2c.address == 0x6A) ? ATCA_SUCCESS : 0xF0; }
ATCA_STATUS atcab_genkey(uint16_t id, uint8_t *pub)
{
    fake_atecc_genkey_calls++;
    if (make_slot_key(id) != ATCA_SUCCESS) return 1;
    return atcab_get_pubkey(id, pub);
}
ATCA_STATUS atcab_get_pubkey(uint16_t id, uint8_t *pub)
{
    if (id > 15 || !s_slot_has[id]) return 0xF1;
    if (mbedtls_mpi_write_binary(&s_slots[id].Q.X, pub, 32) || mbedtls_mpi_write_binary(&s_slots[id].Q.Y, pub + 32, 32))
        return 1;
    return ATCA_SUCCESS;
}
ATCA_STATUS atcab_sign(uint16_t id, const uint8_t *msg, uint8_t *sig)
{
    mbedtls_mpi r, s;
    int rc;
    if (id > 15 || !s_slot_has[id]) return 0xF1;
    mbedtls_mpi_init(&r); mbedtls_mpi_init(&s);
    rc = mbedtls_ecdsa_sign(&s_slots[id].grp, &r, &s, &s_slots[id].d, msg, 32, prov_crypto_random, NULL);
    rc |= mbedtls_mpi_write_binary(&r, sig, 32);
    rc |= mbedtls_mpi_write_binary(&s, sig + 32, 32);
    mbedtls_mpi_free(&r); mbedtls_mpi_free(&s);
    return rc == 0 ? ATCA_SUCCESS : 1;
}
