/*
 * device_stores.c - what the device's stores hold, read into the device
 * context (keys and their digests, the committed set's summary, the lock).
 * Used at boot (device.c) and after every command that changes a store
 * (dispatch.c). The device's state is derived from what they hold, so it is
 * here too: both halves ask for it, and neither calls back into the other
 * (device.c -> dispatch.c -> device_stores.c).
 */
#include "device_stores.h"

#include <string.h>

#include "prov/credset.h"
#include "prov/crypto.h"
#include "prov/csr.h"
#include "prov/state.h"

static void copy_cstr(char *p_out, size_t cap, const prov_strview_t *p_v)
{
    size_t n = (p_v->len < cap - 1u) ? p_v->len : cap - 1u;
    memcpy(p_out, p_v->ptr, n);
    p_out[n] = '\0';
}

prov_state_t prov_device_state(const prov_device_t *p_dev)
{
    prov_state_facts_t facts = {p_dev->has_key, p_dev->has_committed, p_dev->has_staged, p_dev->locked};
    return prov_state_derive(&facts);
}

prov_error_code_t prov_device_read_committed(prov_device_t *p_dev, prov_credentials_t *p_creds, size_t *p_len)
{
    size_t len = 0;
    uint32_t generation = 0;
    int st = p_dev->cfg.credstore.read_committed(p_dev->cfg.credstore.ctx, p_dev->work, sizeof(p_dev->work) - 1u,
                                                 &len, &generation);
    prov_error_code_t code = (st == PROV_STORAGE_OK) ? PROV_CODE_OK : PROV_CODE_ERR_STORAGE;

    if (code == PROV_CODE_OK) {
        code = prov_credset_parse(p_dev->work, len, p_creds, NULL, 0u);
        p_creds->generation = generation;
        if (p_len != NULL) {
            *p_len = len;
        }
    }
    return code;
}

prov_error_code_t prov_device_refresh(prov_device_t *p_dev)
{
    const prov_keystore_t *ks = &p_dev->cfg.keystore;
    const prov_credstore_t *cs = &p_dev->cfg.credstore;
    prov_error_code_t code = PROV_CODE_OK;
    uint8_t spki[PROV_PUBKEY_DER_MAX];
    size_t spki_len = 0;
    int st = 0;
    size_t len = 0;
    prov_credentials_t creds;

    /* active and pending key */
    for (int slot = PROV_KEY_SLOT_ACTIVE; slot <= PROV_KEY_SLOT_PENDING; slot++) {
        bool *p_has = (slot == PROV_KEY_SLOT_ACTIVE) ? &p_dev->has_key : &p_dev->has_pending;
        uint8_t *p_type = (slot == PROV_KEY_SLOT_ACTIVE) ? &p_dev->key_type : &p_dev->pending_type;
        uint8_t *p_sha = (slot == PROV_KEY_SLOT_ACTIVE) ? p_dev->key_sha256 : p_dev->pending_sha256;
        st = ks->key_type(ks->ctx, (prov_key_slot_t)slot, p_type);
        *p_has = (st == PROV_STORAGE_OK);
        if (st == PROV_STORAGE_OK) {
            st = ks->public_key(ks->ctx, (prov_key_slot_t)slot, spki, sizeof(spki), &spki_len);
            if (st != PROV_STORAGE_OK || prov_crypto_sha256(spki, spki_len, p_sha) != 0) {
                code = PROV_CODE_ERR_STORAGE;
            }
        } else if (st != PROV_STORAGE_NOT_FOUND) {
            code = PROV_CODE_ERR_STORAGE;
        }
    }

    /* committed set */
    p_dev->has_committed = false;
    if (prov_device_read_committed(p_dev, &creds, &len) == PROV_CODE_OK) {
        const size_t cert_end = (size_t)((const uint8_t *)creds.cert_pem.ptr - p_dev->work) + creds.cert_pem.len;
        uint8_t saved = 0;
        p_dev->has_committed = true;
        p_dev->generation = creds.generation;
        (void)prov_crypto_sha256(p_dev->work, len, p_dev->set_sha256);
        copy_cstr(p_dev->thing_name, sizeof(p_dev->thing_name), &creds.thing_name);
        copy_cstr(p_dev->endpoint, sizeof(p_dev->endpoint), &creds.endpoint);
        copy_cstr(p_dev->topic, sizeof(p_dev->topic), &creds.topic);
        p_dev->port = creds.port;
        (void)prov_crypto_sha256((const uint8_t *)creds.cert_pem.ptr, creds.cert_pem.len, p_dev->cert_sha256);
        /* parse the PEM in place: NUL-terminate it for a moment (work[] has one spare byte at the end) */
        saved = p_dev->work[cert_end];
        p_dev->work[cert_end] = 0u;
        if (prov_cert_spki_digest(creds.cert_pem.ptr, creds.cert_pem.len, NULL, 0u, p_dev->cert_key_sha256) !=
            PROV_CODE_OK) {
            memset(p_dev->cert_key_sha256, 0, 32u);
        }
        p_dev->work[cert_end] = saved;
    }

    st = cs->is_locked(cs->ctx);
    p_dev->locked = (st == 1);
    if (st < 0) {
        code = PROV_CODE_ERR_STORAGE;
    }
    return code;
}
