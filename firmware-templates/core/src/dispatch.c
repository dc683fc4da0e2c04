/*
 * dispatch.c - the commands of protocol.md 5.3, each checked against the
 * state table first. Handlers write their OK fields into p_reply->fields
 * or return an error code with a short text naming what to do.
 */
#include <string.h>

#include "dispatch.h"

#include "device_stores.h"
#include "prov/credset.h"
#include "prov/crypto.h"
#include "prov/csr.h"
#include "prov/state.h"

/* ---------------------------------------------------------------- handlers */

static prov_error_code_t do_hello(prov_device_t *p_dev, prov_reply_t *p_reply)
{
    prov_tlv_writer_t *w = &p_reply->fields;
    const prov_platform_t *pf = &p_dev->cfg.platform;
    uint8_t store = p_dev->cfg.keystore.store_id;

    (void)prov_tlv_put_u8(w, 0x01u, PROV_PROTOCOL_VERSION);
    (void)prov_tlv_put_str(w, 0x02u, pf->device_id);
    (void)prov_tlv_put_str(w, 0x03u, pf->firmware_version);
    (void)prov_tlv_put_str(w, 0x04u, pf->board_id);
    (void)prov_tlv_put_bytes(w, 0x05u, p_dev->cfg.keystore.key_types, p_dev->cfg.keystore.n_key_types);
    (void)prov_tlv_put_bytes(w, 0x06u, &store, 1u);
    (void)prov_tlv_put_u8(w, 0x07u, (uint8_t)prov_device_state(p_dev));
    (void)prov_tlv_put_u16(w, 0x08u, (uint16_t)PROV_DEVICE_MAX_FRAME);
    (void)prov_tlv_put_u32list(w, 0x09u, pf->bauds, pf->n_bauds);
    if (pf->build_version != NULL) {
        (void)prov_tlv_put_str(w, 0x0Au, pf->build_version);
    }
    if (pf->build_sha256 != NULL) {
        (void)prov_tlv_put_bytes(w, 0x0Bu, pf->build_sha256, 32u);
    }
    return PROV_CODE_OK;
}

static prov_error_code_t do_status(prov_device_t *p_dev, prov_reply_t *p_reply)
{
    prov_tlv_writer_t *w = &p_reply->fields;

    (void)prov_tlv_put_u8(w, 0x07u, (uint8_t)prov_device_state(p_dev));
    if (p_dev->has_key) {
        (void)prov_tlv_put_u8(w, 0x10u, p_dev->key_type);
        (void)prov_tlv_put_u8(w, 0x11u, p_dev->cfg.keystore.store_id);
        (void)prov_tlv_put_bytes(w, 0x12u, p_dev->key_sha256, 32u);
    }
    if (p_dev->has_pending) {
        (void)prov_tlv_put_bytes(w, 0x13u, p_dev->pending_sha256, 32u);
    }
    if (p_dev->has_committed) {
        (void)prov_tlv_put_str(w, 0x20u, p_dev->thing_name);
        (void)prov_tlv_put_str(w, 0x21u, p_dev->endpoint);
        (void)prov_tlv_put_u16(w, 0x22u, p_dev->port);
        (void)prov_tlv_put_str(w, 0x23u, p_dev->topic);
        (void)prov_tlv_put_bytes(w, 0x24u, p_dev->cert_sha256, 32u);
        (void)prov_tlv_put_u32(w, 0x25u, p_dev->generation);
        (void)prov_tlv_put_bytes(w, 0x26u, p_dev->set_sha256, 32u);
    }
    if (p_dev->has_staged) {
        (void)prov_tlv_put_u32(w, 0x27u, p_dev->staged_len);
    }
    return PROV_CODE_OK;
}

static prov_error_code_t do_ping(const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    const uint8_t *data = NULL;
    size_t data_len = 0;
    prov_status_t st = prov_tlv_find_bytes(p, len, 0x01u, &data, &data_len);
    prov_error_code_t code = PROV_CODE_OK;

    if (st == PROV_OK) {
        if (data_len > 64u) {
            code = prov_reply_error(p_reply, PROV_CODE_ERR_TOO_LARGE, "PING data longer than 64 bytes");
        } else {
            (void)prov_tlv_put_bytes(&p_reply->fields, 0x01u, data, data_len);
        }
    } else if (st != PROV_ERR_NOT_FOUND) {
        code = prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "PING payload malformed");
    }
    return code;
}

static prov_error_code_t do_set_baud(prov_device_t *p_dev, const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    uint32_t baud = 0;
    bool known = false;
    prov_error_code_t code = PROV_CODE_OK;

    if (prov_tlv_find_u32(p, len, 0x01u, &baud) != PROV_OK) {
        code = prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "SET_BAUD needs tag 0x01 u32 baud");
    } else {
        for (size_t i = 0; i < p_dev->cfg.platform.n_bauds; i++) {
            known = known || (p_dev->cfg.platform.bauds[i] == baud);
        }
        if (!known) {
            code = prov_reply_error(p_reply, PROV_CODE_ERR_BAD_BAUD, "baud %lu not supported: see HELLO 0x09",
                                    (unsigned long)baud);
        } else {
            (void)prov_tlv_put_u32(&p_reply->fields, 0x01u, baud);
            p_reply->after = PROV_AFTER_SET_BAUD;
            p_reply->after_arg = baud;
        }
    }
    return code;
}

static bool key_type_supported(const prov_keystore_t *p_ks, uint8_t type)
{
    bool ok = false;
    for (size_t i = 0; i < p_ks->n_key_types; i++) {
        ok = ok || (p_ks->key_types[i] == type);
    }
    return ok;
}

static void discard_staging(prov_device_t *p_dev)
{
    (void)p_dev->cfg.credstore.discard_staged(p_dev->cfg.credstore.ctx);
    p_dev->has_staged = false;
    p_dev->staged_len = 0u;
}

static prov_error_code_t do_generate_key(prov_device_t *p_dev, const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    const prov_keystore_t *ks = &p_dev->cfg.keystore;
    uint8_t type = 0;
    uint8_t store = 0;
    uint8_t force = 0;
    uint8_t created = 0;
    prov_key_slot_t slot = PROV_KEY_SLOT_ACTIVE;
    prov_error_code_t code = PROV_CODE_OK;
    prov_status_t st = prov_tlv_find_u8(p, len, 0x03u, &force);

    if ((st != PROV_OK && st != PROV_ERR_NOT_FOUND) || force > 1u) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "force (tag 0x03) must be u8 0 or 1");
    }
    if (prov_tlv_find_u8(p, len, 0x01u, &type) != PROV_OK || prov_tlv_find_u8(p, len, 0x02u, &store) != PROV_OK) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "GENERATE_KEY needs key type (0x01) and store (0x02)");
    }
    if (!key_type_supported(ks, type)) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_UNSUPPORTED, "key type %u not supported: see HELLO 0x05",
                                (unsigned)type);
    }
    if (store != ks->store_id) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_UNSUPPORTED, "key store %u not supported: this board has %u",
                                (unsigned)store, (unsigned)ks->store_id);
    }

    if (force == 0u && p_dev->has_key) {
        /* idempotent: report the key GET_CSR would use, whatever type was asked */
        slot = p_dev->has_pending ? PROV_KEY_SLOT_PENDING : PROV_KEY_SLOT_ACTIVE;
    } else {
        /* with a committed set the old identity must keep working: rotate through the pending slot */
        slot = p_dev->has_committed ? PROV_KEY_SLOT_PENDING : PROV_KEY_SLOT_ACTIVE;
        code = prov_storage_to_code(ks->generate(ks->ctx, slot, type));
        if (code != PROV_CODE_OK) {
            (void)prov_device_refresh(p_dev);
            return prov_reply_error(p_reply, code, "key generation failed in the key store");
        }
        created = 1u;
        if (p_dev->has_staged) {
            discard_staging(p_dev); /* a staged certificate belongs to the old key */
        }
        (void)prov_device_refresh(p_dev);
    }
    {
        uint8_t spki[PROV_PUBKEY_DER_MAX];
        size_t spki_len = 0;
        uint8_t slot_type = 0;
        code = prov_storage_to_code(ks->key_type(ks->ctx, slot, &slot_type));
        if (code == PROV_CODE_OK) {
            code = prov_storage_to_code(ks->public_key(ks->ctx, slot, spki, sizeof(spki), &spki_len));
        }
        if (code != PROV_CODE_OK) {
            return prov_reply_error(p_reply, code, "key store cannot report the public key");
        }
        (void)prov_tlv_put_u8(&p_reply->fields, 0x01u, slot_type);
        (void)prov_tlv_put_u8(&p_reply->fields, 0x02u, ks->store_id);
        (void)prov_tlv_put_bytes(&p_reply->fields, 0x03u, spki, spki_len);
        (void)prov_tlv_put_u8(&p_reply->fields, 0x04u, created);
    }
    return PROV_CODE_OK;
}

static prov_error_code_t do_get_csr(prov_device_t *p_dev, const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    prov_csr_subject_t subject;
    prov_strview_t *fields[6] = {&subject.c, &subject.st, &subject.l, &subject.o, &subject.ou, &subject.cn};
    static const char *const names[6] = {"C", "ST", "L", "O", "OU", "CN"};
    prov_error_code_t code = PROV_CODE_OK;
    size_t csr_len = 0;
    const prov_key_slot_t slot = p_dev->has_pending ? PROV_KEY_SLOT_PENDING : PROV_KEY_SLOT_ACTIVE;

    if (!p_dev->has_key) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_NO_KEY, "no key yet: send GENERATE_KEY first");
    }
    if (prov_tlv_validate(p, len) != PROV_OK) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "GET_CSR fields overrun the payload");
    }
    for (size_t i = 0; i < 6u; i++) {
        if (prov_tlv_find_str_or_empty(p, len, (uint8_t)(i + 1u), &fields[i]->ptr, &fields[i]->len) != PROV_OK) {
            return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "subject %s is not a string", names[i]);
        }
    }
    code = prov_csr_build(&p_dev->cfg.keystore, slot, &subject, p_dev->work, PROV_CSR_DER_MAX, &csr_len);
    if (code == PROV_CODE_ERR_BAD_PAYLOAD) {
        return prov_reply_error(p_reply, code, "subject: C must be 2 letters, others valid UTF-8 without NUL");
    }
    if (code == PROV_CODE_ERR_TOO_LARGE) {
        /* either one field is over its limit, or all fit and the whole CSR does not */
        bool field_too_long = false;
        for (size_t i = 0; i < 6u; i++) {
            field_too_long = field_too_long || (fields[i]->len > PROV_SUBJECT_FIELD_MAX);
        }
        if (!field_too_long) {
            return prov_reply_error(p_reply, code, "CSR longer than %u bytes: shorten the subject",
                                    (unsigned)PROV_CSR_DER_MAX);
        }
        return prov_reply_error(p_reply, code, "subject field longer than %u bytes", (unsigned)PROV_SUBJECT_FIELD_MAX);
    }
    if (code != PROV_CODE_OK) {
        return prov_reply_error(p_reply, code, "CSR signing failed in the key store");
    }
    if (prov_tlv_put_bytes(&p_reply->fields, 0x01u, p_dev->work, csr_len) != PROV_OK) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_TOO_LARGE, "CSR of %u bytes does not fit one frame",
                                (unsigned)csr_len);
    }
    return PROV_CODE_OK;
}

static prov_error_code_t do_write_credentials(prov_device_t *p_dev, const uint8_t *p, size_t len,
                                              prov_reply_t *p_reply)
{
    prov_credentials_t c;
    prov_error_code_t code = prov_credset_parse(p, len, &c, p_reply->text, sizeof(p_reply->text));
    uint8_t cert_key[32];

    if (code != PROV_CODE_OK) {
        return code;
    }
    code = prov_cert_spki_digest(c.cert_pem.ptr, c.cert_pem.len, p_dev->work, sizeof(p_dev->work), cert_key);
    if (code != PROV_CODE_OK) {
        return prov_reply_error(p_reply, code, "device certificate (tag 0x01) does not parse as PEM X.509");
    }
    code = prov_pem_certs_check(c.ca_pem.ptr, c.ca_pem.len, p_dev->work, sizeof(p_dev->work));
    if (code != PROV_CODE_OK) {
        return prov_reply_error(p_reply, code, "root CA (tag 0x02) does not parse as PEM X.509");
    }
    code = prov_storage_to_code(p_dev->cfg.credstore.stage(p_dev->cfg.credstore.ctx, p, len));
    if (code != PROV_CODE_OK) {
        return prov_reply_error(p_reply, code, "staging the credential set failed");
    }
    p_dev->has_staged = true;
    p_dev->staged_len = (uint32_t)len;
    (void)prov_crypto_sha256(p, len, p_dev->staged_sha256);
    (void)prov_crypto_sha256((const uint8_t *)c.cert_pem.ptr, c.cert_pem.len, p_dev->staged_cert_sha256);
    memcpy(p_dev->staged_cert_key_sha256, cert_key, 32u);
    (void)prov_tlv_put_u32(&p_reply->fields, 0x01u, (uint32_t)len);
    (void)prov_tlv_put_bytes(&p_reply->fields, 0x02u, p_dev->staged_sha256, 32u);
    return PROV_CODE_OK;
}

static prov_error_code_t do_commit(prov_device_t *p_dev, prov_reply_t *p_reply)
{
    const bool rotating = p_dev->has_pending;
    const prov_key_slot_t slot = rotating ? PROV_KEY_SLOT_PENDING : PROV_KEY_SLOT_ACTIVE;
    uint8_t key_canon[32];
    uint32_t generation = 0;
    prov_error_code_t code = prov_key_digest(&p_dev->cfg.keystore, slot, key_canon);

    if (code != PROV_CODE_OK) {
        return prov_reply_error(p_reply, code, "cannot read the device key");
    }
    if (memcmp(key_canon, p_dev->staged_cert_key_sha256, 32u) != 0) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_KEY_MISMATCH,
                                "certificate's public key is not this device's %s key: CSR from another device?",
                                rotating ? "pending" : "active");
    }
    code = prov_storage_to_code(p_dev->cfg.credstore.commit(p_dev->cfg.credstore.ctx, &generation));
    if (code != PROV_CODE_OK) {
        (void)prov_device_refresh(p_dev);
        return prov_reply_error(p_reply, PROV_CODE_ERR_STORAGE, "writing the credential set to flash failed");
    }
    p_dev->has_staged = false;
    p_dev->staged_len = 0u;
    if (rotating && p_dev->cfg.keystore.promote_pending(p_dev->cfg.keystore.ctx) != PROV_STORAGE_OK) {
        /* the set is committed; boot finishes the promotion (prov_device_boot) */
        (void)prov_device_refresh(p_dev);
        return prov_reply_error(p_reply, PROV_CODE_ERR_STORAGE, "set committed but key promotion failed: RESTART");
    }
    code = prov_device_refresh(p_dev);
    if (code != PROV_CODE_OK || !p_dev->has_committed) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_STORAGE, "committed set does not read back");
    }
    (void)prov_tlv_put_bytes(&p_reply->fields, 0x01u, p_dev->set_sha256, 32u);
    (void)prov_tlv_put_bytes(&p_reply->fields, 0x02u, p_dev->cert_sha256, 32u);
    (void)prov_tlv_put_u32(&p_reply->fields, 0x03u, p_dev->generation);
    return PROV_CODE_OK;
}

static prov_error_code_t do_restart(const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    uint16_t delay_ms = (uint16_t)PROV_RESTART_DELAY_MS_DEFAULT;
    prov_status_t st = prov_tlv_find_u16(p, len, 0x01u, &delay_ms);

    if (st != PROV_OK && st != PROV_ERR_NOT_FOUND) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "RESTART delay (0x01) must be u16 ms");
    }
    p_reply->after = PROV_AFTER_RESTART;
    p_reply->after_arg = delay_ms;
    return PROV_CODE_OK;
}

static prov_error_code_t do_lock(prov_device_t *p_dev, const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    const char *word = NULL;
    size_t word_len = 0;

    if (prov_tlv_find_str(p, len, 0x01u, &word, &word_len) != PROV_OK || word_len != 4u ||
        memcmp(word, "LOCK", 4u) != 0) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "LOCK needs confirmation string \"LOCK\" (0x01)");
    }
    if (p_dev->cfg.credstore.set_locked(p_dev->cfg.credstore.ctx) != PROV_STORAGE_OK) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_STORAGE, "writing the lock flag failed");
    }
    p_dev->locked = true;
    return PROV_CODE_OK;
}

static prov_error_code_t do_factory_reset(prov_device_t *p_dev, const uint8_t *p, size_t len, prov_reply_t *p_reply)
{
    const uint8_t *token = NULL;
    size_t token_len = 0;
    prov_status_t st = prov_tlv_find_bytes(p, len, 0x01u, &token, &token_len);
    const uint32_t now = p_dev->cfg.platform.millis(p_dev->cfg.platform.ctx);
    prov_error_code_t code = PROV_CODE_OK;

    if (st == PROV_ERR_NOT_FOUND) {
        if (p_dev->cfg.platform.random(p_dev->cfg.platform.ctx, p_dev->token, sizeof(p_dev->token)) != 0) {
            return prov_reply_error(p_reply, PROV_CODE_ERR_CRYPTO, "random generator failed");
        }
        p_dev->token_valid = true;
        p_dev->token_issued_ms = now;
        (void)prov_tlv_put_bytes(&p_reply->fields, 0x01u, p_dev->token, sizeof(p_dev->token));
        return PROV_CODE_OK;
    }
    if (st != PROV_OK || token_len != sizeof(p_dev->token)) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_PAYLOAD, "FACTORY_RESET token (0x01) must be 8 bytes");
    }
    {
        uint8_t diff = 0;
        for (size_t i = 0; i < sizeof(p_dev->token); i++) {
            diff |= (uint8_t)(token[i] ^ p_dev->token[i]);
        }
        const bool fresh = p_dev->token_valid && (uint32_t)(now - p_dev->token_issued_ms) <= PROV_RESET_TOKEN_VALID_MS;
        p_dev->token_valid = false; /* valid once, right or wrong */
        if (!fresh || diff != 0u) {
            return prov_reply_error(p_reply, PROV_CODE_ERR_BAD_TOKEN,
                                    "token wrong or older than 30 s: ask FACTORY_RESET without a token again");
        }
    }
    if (p_dev->app_running) {
        p_dev->cfg.app.stop(p_dev->cfg.app.ctx);
        p_dev->app_running = false;
    }
    /* erase the set first: a set without its key is useless, a key without a set is state KEYED */
    if (p_dev->cfg.credstore.erase(p_dev->cfg.credstore.ctx) != PROV_STORAGE_OK ||
        p_dev->cfg.keystore.destroy(p_dev->cfg.keystore.ctx, PROV_KEY_SLOT_PENDING) != PROV_STORAGE_OK ||
        p_dev->cfg.keystore.destroy(p_dev->cfg.keystore.ctx, PROV_KEY_SLOT_ACTIVE) != PROV_STORAGE_OK) {
        code = prov_reply_error(p_reply, PROV_CODE_ERR_STORAGE, "erase failed; STATUS shows what is left");
    }
    p_dev->has_staged = false;
    (void)prov_device_refresh(p_dev);
    return code;
}

/* ---------------------------------------------------------------- dispatch */

static bool is_known(uint8_t type)
{
    return type == PROV_MSG_HELLO || type == PROV_MSG_STATUS || type == PROV_MSG_PING || type == PROV_MSG_SET_BAUD ||
           type == PROV_MSG_GENERATE_KEY || type == PROV_MSG_GET_CSR || type == PROV_MSG_WRITE_CREDENTIALS ||
           type == PROV_MSG_COMMIT || type == PROV_MSG_RESTART || type == PROV_MSG_LOCK ||
           type == PROV_MSG_FACTORY_RESET;
}

prov_error_code_t prov_dispatch(prov_device_t *p_dev, uint8_t type, const uint8_t *p, size_t len,
                                prov_reply_t *p_reply)
{
    const prov_state_t state = prov_device_state(p_dev);
    prov_error_code_t code = PROV_CODE_OK;

    if (!is_known(type)) {
        return prov_reply_error(p_reply, PROV_CODE_ERR_UNKNOWN_TYPE, "message type 0x%02x unknown to this firmware",
                                (unsigned)type);
    }
    if (!prov_state_allows(state, type)) {
        if (state == PROV_STATE_LOCKED) {
            return prov_reply_error(p_reply, PROV_CODE_ERR_LOCKED, "%s refused: device is LOCKED", prov_msg_name(type));
        }
        return prov_reply_error(p_reply, PROV_CODE_ERR_WRONG_STATE, "%s not valid in state %s: %s",
                                prov_msg_name(type), prov_state_name((uint8_t)state), prov_state_hint(state, type));
    }
    switch (type) {
    case PROV_MSG_HELLO: code = do_hello(p_dev, p_reply); break;
    case PROV_MSG_STATUS: code = do_status(p_dev, p_reply); break;
    case PROV_MSG_PING: code = do_ping(p, len, p_reply); break;
    case PROV_MSG_SET_BAUD: code = do_set_baud(p_dev, p, len, p_reply); break;
    case PROV_MSG_GENERATE_KEY: code = do_generate_key(p_dev, p, len, p_reply); break;
    case PROV_MSG_GET_CSR: code = do_get_csr(p_dev, p, len, p_reply); break;
    case PROV_MSG_WRITE_CREDENTIALS: code = do_write_credentials(p_dev, p, len, p_reply); break;
    case PROV_MSG_COMMIT: code = do_commit(p_dev, p_reply); break;
    case PROV_MSG_RESTART: code = do_restart(p, len, p_reply); break;
    case PROV_MSG_LOCK: code = do_lock(p_dev, p, len, p_reply); break;
    case PROV_MSG_FACTORY_RESET: code = do_factory_reset(p_dev, p, len, p_reply); break;
    default: code = prov_reply_error(p_reply, PROV_CODE_ERR_INTERNAL, "unhandled type"); break;
    }
    return code;
}
