/*
 * device.c - the link half of the device: receiver, chunk reassembly,
 * duplicate suppression, response and EVENT framing, SET_BAUD timer, boot.
 * Commands themselves are in dispatch.c.
 */
#include <stdio.h>
#include <string.h>

#include "device_stores.h"
#include "dispatch.h"
#include "prov/crypto.h"
#include "prov/csr.h"
#include "prov/state.h"

static void send_line(prov_device_t *p_dev, const uint8_t *p_line, size_t len)
{
    /* A failed write is not retried here: the host times out and resends the same seq. */
    (void)p_dev->cfg.transport.write(p_dev->cfg.transport.ctx, p_line, len);
}

static void drain(prov_device_t *p_dev)
{
    if (p_dev->cfg.transport.drain != NULL) {
        (void)p_dev->cfg.transport.drain(p_dev->cfg.transport.ctx);
    }
}

/* An uncached answer is encoded in work[] (free once a command has run), so it
 * cannot overwrite the remembered line. */
_Static_assert(sizeof(((prov_device_t *)0)->work) >= sizeof(((prov_device_t *)0)->cache_line),
               "work[] must hold a response line");

/* Encode and send a response; keep it as the duplicate cache entry when cache is set.
 * An uncached one (HELLO, STATUS, PING, ERR_VERSION) leaves the remembered request
 * alone (protocol 6), so a retry after it is still answered from the cache. */
static void send_response(prov_device_t *p_dev, uint8_t type, uint16_t seq, uint8_t flags, const uint8_t *p_payload,
                          size_t len, bool cache)
{
    prov_frame_t frame = {PROV_PROTOCOL_VERSION, type, seq, flags, p_payload, len};
    size_t line_len = 0;

    if (!cache) {
        if (prov_frame_encode(&frame, p_dev->work, sizeof(p_dev->work), &line_len) == PROV_OK) {
            send_line(p_dev, p_dev->work, line_len);
        }
    } else if (prov_frame_encode(&frame, p_dev->cache_line, sizeof(p_dev->cache_line), &line_len) == PROV_OK) {
        p_dev->cache_valid = true;
        p_dev->cache_type = type;
        p_dev->cache_seq = seq;
        p_dev->cache_len = line_len;
        send_line(p_dev, p_dev->cache_line, line_len);
    } else {
        p_dev->cache_valid = false;
    }
}

/* Error response: status byte + TLV 0x01 text. */
static void send_error(prov_device_t *p_dev, uint8_t type, uint16_t seq, prov_error_code_t code, const char *p_text,
                       bool cache)
{
    prov_tlv_writer_t w;
    uint8_t status = (uint8_t)code;
    size_t text_len = strlen(p_text);

    if (text_len > PROV_ERROR_TEXT_MAX_BYTES) {
        text_len = PROV_ERROR_TEXT_MAX_BYTES;
    }
    (void)prov_tlv_writer_init(&w, p_dev->response, sizeof(p_dev->response));
    (void)prov_tlv_put_raw(&w, &status, 1u);
    (void)prov_tlv_put(&w, 0x01u, (const uint8_t *)p_text, text_len);
    send_response(p_dev, type, seq, PROV_FLAG_RESPONSE, p_dev->response, prov_tlv_writer_len(&w), cache);
}

/* Read-only requests are executed afresh on a retry (their answer must show the current state). */
static bool is_read_only(uint8_t type)
{
    return type == PROV_MSG_HELLO || type == PROV_MSG_STATUS || type == PROV_MSG_PING;
}

static void run_request(prov_device_t *p_dev, uint8_t type, uint16_t seq, const uint8_t *p_payload, size_t len)
{
    prov_reply_t reply;
    prov_error_code_t code = PROV_CODE_OK;
    const bool cache = !is_read_only(type);

    memset(&reply, 0, sizeof(reply));
    /* the status byte goes in response[0]; fields follow. The whole answer must fit one frame
     * body of the max_frame HELLO announces (protocol 4: responses are never chunked). */
    (void)prov_tlv_writer_init(&reply.fields, p_dev->response + 1,
                               PROV_FRAME_PAYLOAD_MAX_FOR(PROV_DEVICE_MAX_FRAME) - 1u);
    code = prov_dispatch(p_dev, type, p_payload, len, &reply);
    if (code == PROV_CODE_OK && prov_tlv_writer_status(&reply.fields) != PROV_OK) {
        code = prov_reply_error(&reply, PROV_CODE_ERR_INTERNAL, "answer to %s does not fit one frame",
                                prov_msg_name(type));
    }
    if (code == PROV_CODE_OK) {
        p_dev->response[0] = PROV_CODE_OK;
        send_response(p_dev, type, seq, PROV_FLAG_RESPONSE, p_dev->response,
                      1u + prov_tlv_writer_len(&reply.fields), cache);
    } else {
        send_error(p_dev, type, seq, code, reply.text, cache);
    }
    if (type == PROV_MSG_HELLO) {
        /* HELLO opens a new host session whose seq restarts at 1: forget the old session's last request */
        p_dev->cache_valid = false;
    }

    if (reply.after == PROV_AFTER_SET_BAUD) {
        drain(p_dev);
        if (p_dev->cfg.transport.set_baud(p_dev->cfg.transport.ctx, reply.after_arg) == 0) {
            p_dev->baud_previous = p_dev->baud_current;
            p_dev->baud_current = reply.after_arg;
            p_dev->baud_unconfirmed = true;
            p_dev->baud_switched_ms = p_dev->cfg.platform.millis(p_dev->cfg.platform.ctx);
            prov_rx_reset(&p_dev->rx);
        }
    } else if (reply.after == PROV_AFTER_RESTART) {
        drain(p_dev);
        if (p_dev->app_running) {
            p_dev->cfg.app.stop(p_dev->cfg.app.ctx);
            p_dev->app_running = false;
        }
        p_dev->halted = true;
        p_dev->cfg.platform.restart(p_dev->cfg.platform.ctx, reply.after_arg);
    }
}

static void handle_chunk(prov_device_t *p_dev, const prov_frame_t *p_frame)
{
    prov_chunk_progress_t progress;
    prov_status_t st = PROV_OK;
    char text[PROV_ERROR_TEXT_MAX_BYTES + 1u];

    memset(&progress, 0, sizeof(progress));
    st = prov_chunk_rx_push_type(&p_dev->chunks, p_frame->type, p_frame->p_payload, p_frame->payload_len, &progress);
    if (st != PROV_OK) {
        if (st == PROV_ERR_TOO_LARGE) {
            (void)snprintf(text, sizeof(text), "%s payload larger than %u bytes", prov_msg_name(p_frame->type),
                           (unsigned)PROV_DEVICE_PAYLOAD_MAX);
        } else if (st == PROV_ERR_CHUNK) {
            (void)snprintf(text, sizeof(text), "chunk out of order or total changed: resend from offset 0");
        } else if (st == PROV_ERR_DIGEST) {
            (void)snprintf(text, sizeof(text), "reassembled %s payload does not match its SHA-256",
                           prov_msg_name(p_frame->type));
        } else {
            (void)snprintf(text, sizeof(text), "bad chunk: %s", prov_strerror(st));
        }
        send_error(p_dev, p_frame->type, p_frame->seq, prov_status_to_error_code(st), text, true);
    } else if (!progress.complete) {
        uint8_t status = PROV_CODE_OK;
        prov_tlv_writer_t w;
        (void)prov_tlv_writer_init(&w, p_dev->response, sizeof(p_dev->response));
        (void)prov_tlv_put_raw(&w, &status, 1u);
        (void)prov_tlv_put_u32(&w, 0x01u, progress.received);
        send_response(p_dev, p_frame->type, p_frame->seq, PROV_FLAG_RESPONSE | PROV_FLAG_CHUNK, p_dev->response,
                      prov_tlv_writer_len(&w), true);
    } else {
        run_request(p_dev, p_frame->type, p_frame->seq, progress.p_payload, progress.payload_len);
    }
}

void prov_device_handle_frame(prov_device_t *p_dev, const prov_frame_t *p_frame)
{
    if (p_dev == NULL || p_frame == NULL || p_dev->halted || !p_dev->booted) {
        return;
    }
    /* any valid frame at the new rate proves the host switched too */
    p_dev->baud_unconfirmed = false;

    if ((p_frame->flags & PROV_FLAG_RESPONSE) != 0u || p_frame->type == PROV_MSG_EVENT) {
        return; /* the device never asked anything: ignore */
    }
    if (p_dev->cache_valid && p_frame->type == p_dev->cache_type && p_frame->seq == p_dev->cache_seq) {
        /* a retry: answer exactly as before, do not run it again */
        send_line(p_dev, p_dev->cache_line, p_dev->cache_len);
        return;
    }
    if ((p_frame->flags & PROV_FLAG_CHUNK) != 0u) {
        prov_state_t state = prov_device_state(p_dev);
        if (prov_state_allows(state, p_frame->type)) {
            handle_chunk(p_dev, p_frame);
        } else {
            /* refuse at the first chunk, not after 8 KB; dispatch says why */
            prov_chunk_rx_reset(&p_dev->chunks);
            run_request(p_dev, p_frame->type, p_frame->seq, NULL, 0u);
        }
    } else {
        run_request(p_dev, p_frame->type, p_frame->seq, p_frame->p_payload, p_frame->payload_len);
    }
}

static void on_rx_event(void *p_context, const prov_rx_event_t *p_event)
{
    prov_device_t *p_dev = (prov_device_t *)p_context;

    if (p_event->kind == PROV_RX_EVENT_FRAME) {
        prov_device_handle_frame(p_dev, &p_event->frame);
    } else if (p_event->kind == PROV_RX_EVENT_ERROR) {
        p_dev->frames_bad++;
        if (p_event->error == PROV_ERR_BAD_VERSION && (p_event->frame.flags & PROV_FLAG_RESPONSE) == 0u &&
            !p_dev->halted) {
            send_error(p_dev, p_event->frame.type, p_event->frame.seq, PROV_CODE_ERR_VERSION,
                       "protocol version not supported; supported: 1", false);
        }
    } else {
        /* text from the host side is ignored: only frames mean something */
    }
}

prov_status_t prov_device_init(prov_device_t *p_dev, const prov_device_config_t *p_cfg)
{
    if (p_dev == NULL || p_cfg == NULL || p_cfg->transport.write == NULL || p_cfg->transport.set_baud == NULL ||
        p_cfg->keystore.key_type == NULL || p_cfg->keystore.generate == NULL || p_cfg->keystore.public_key == NULL ||
        p_cfg->keystore.sign_sha256 == NULL || p_cfg->keystore.promote_pending == NULL ||
        p_cfg->keystore.destroy == NULL || p_cfg->credstore.stage == NULL || p_cfg->credstore.discard_staged == NULL ||
        p_cfg->credstore.commit == NULL || p_cfg->credstore.read_committed == NULL || p_cfg->credstore.erase == NULL ||
        p_cfg->credstore.set_locked == NULL || p_cfg->credstore.is_locked == NULL || p_cfg->app.start == NULL ||
        p_cfg->app.stop == NULL || p_cfg->platform.millis == NULL || p_cfg->platform.random == NULL ||
        p_cfg->platform.restart == NULL || p_cfg->platform.device_id == NULL ||
        p_cfg->platform.firmware_version == NULL || p_cfg->platform.board_id == NULL) {
        return PROV_ERR_BAD_PARAM;
    }
    memset(p_dev, 0, sizeof(*p_dev));
    p_dev->cfg = *p_cfg;
    p_dev->baud_current = p_cfg->baud_initial;
    p_dev->baud_previous = p_cfg->baud_initial;
    (void)prov_rx_init(&p_dev->rx, on_rx_event, p_dev);
    (void)prov_chunk_rx_init(&p_dev->chunks, p_dev->reassembly, sizeof(p_dev->reassembly), prov_crypto_sha256);
    return PROV_OK;
}

prov_status_t prov_device_boot(prov_device_t *p_dev)
{
    prov_status_t st = PROV_OK;
    prov_credentials_t creds;
    char text[64];

    if (p_dev == NULL) {
        return PROV_ERR_BAD_PARAM;
    }
    prov_rx_reset(&p_dev->rx);
    prov_chunk_rx_reset(&p_dev->chunks);
    p_dev->cache_valid = false;
    p_dev->token_valid = false;
    p_dev->baud_unconfirmed = false;
    p_dev->halted = false;
    /* staging never survives a restart (protocol 7) */
    (void)p_dev->cfg.credstore.discard_staged(p_dev->cfg.credstore.ctx);
    p_dev->has_staged = false;

    if (prov_device_refresh(p_dev) != PROV_CODE_OK) {
        st = PROV_ERR_CRYPTO;
    }
    /* A power loss between COMMIT's two steps (set committed, key promoted)
     * leaves a committed certificate for the pending key: finish the promotion. */
    if (st == PROV_OK && p_dev->has_pending && p_dev->has_committed) {
        uint8_t pending_canon[32];
        if (prov_key_digest(&p_dev->cfg.keystore, PROV_KEY_SLOT_PENDING, pending_canon) == PROV_CODE_OK &&
            memcmp(pending_canon, p_dev->cert_key_sha256, 32u) == 0) {
            (void)p_dev->cfg.keystore.promote_pending(p_dev->cfg.keystore.ctx);
            (void)prov_device_refresh(p_dev);
        }
    }
    p_dev->booted = true;

    (void)snprintf(text, sizeof(text), "%s %s", p_dev->cfg.platform.firmware_version,
                   prov_state_name((uint8_t)prov_device_state(p_dev)));
    prov_device_event(p_dev, PROV_EVENT_BOOT, text, true, (uint32_t)prov_device_state(p_dev));

    if (st == PROV_OK && p_dev->has_committed) {
        if (prov_device_read_committed(p_dev, &creds, NULL) == PROV_CODE_OK &&
            p_dev->cfg.app.start(p_dev->cfg.app.ctx, &creds) == 0) {
            p_dev->app_running = true;
        } else {
            prov_device_event(p_dev, PROV_EVENT_ERROR, "application did not start", true, PROV_CODE_ERR_STORAGE);
        }
    }
    return st;
}

void prov_device_feed(prov_device_t *p_dev, const uint8_t *p_data, size_t len)
{
    if (p_dev != NULL && p_dev->booted && !p_dev->halted) {
        (void)prov_rx_push(&p_dev->rx, p_data, len);
    }
}

void prov_device_poll(prov_device_t *p_dev)
{
    if (p_dev == NULL || !p_dev->booted || p_dev->halted) {
        return;
    }
    if (p_dev->baud_unconfirmed) {
        uint32_t now = p_dev->cfg.platform.millis(p_dev->cfg.platform.ctx);
        if ((uint32_t)(now - p_dev->baud_switched_ms) >= PROV_BAUD_CONFIRM_MS) {
            /* the host never spoke at the new rate: go back to where it can reach us */
            if (p_dev->cfg.transport.set_baud(p_dev->cfg.transport.ctx, p_dev->baud_previous) == 0) {
                p_dev->baud_current = p_dev->baud_previous;
            }
            p_dev->baud_unconfirmed = false;
            prov_rx_reset(&p_dev->rx);
        }
    }
}

void prov_device_event(prov_device_t *p_dev, uint8_t code, const char *p_text, bool has_value, uint32_t value)
{
    uint8_t payload[256];
    prov_tlv_writer_t w;
    size_t line_len = 0;
    size_t text_len = 0;
    prov_frame_t frame;

    if (p_dev == NULL || !p_dev->booted) {
        return;
    }
    (void)prov_tlv_writer_init(&w, payload, sizeof(payload));
    (void)prov_tlv_put_u8(&w, 0x01u, code);
    if (p_text != NULL) {
        text_len = strlen(p_text);
        if (text_len > 200u) {
            text_len = 200u;
        }
        (void)prov_tlv_put(&w, 0x02u, (const uint8_t *)p_text, text_len);
    }
    if (has_value) {
        (void)prov_tlv_put_u32(&w, 0x03u, value);
    }
    p_dev->event_seq++;
    if (p_dev->event_seq == 0u) {
        p_dev->event_seq = 1u;
    }
    frame.version = PROV_PROTOCOL_VERSION;
    frame.type = PROV_MSG_EVENT;
    frame.seq = p_dev->event_seq;
    frame.flags = 0u;
    frame.p_payload = payload;
    frame.payload_len = prov_tlv_writer_len(&w);
    if (prov_tlv_writer_status(&w) == PROV_OK &&
        prov_frame_encode(&frame, p_dev->event_line, sizeof(p_dev->event_line), &line_len) == PROV_OK) {
        send_line(p_dev, p_dev->event_line, line_len);
    }
}
