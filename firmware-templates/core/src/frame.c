/*
 * Frame line codec and receiver (protocol.md sections 2 and 3).
 */
#include "prov/frame.h"

#include <string.h>

#include "prov/crc32.h"

/* Receiver modes. */
#define RX_MODE_TEXT 0u  /* accumulating a log line */
#define RX_MODE_FRAME 1u /* accumulating base64 after 0x1E */
#define RX_MODE_SKIP 2u  /* after an oversize line: drop bytes until 0x0A or 0x1E */

/* ------------------------------------------------------------------------ */
/* Encoder                                                                   */
/* ------------------------------------------------------------------------ */

/* Streams body bytes through a 3-byte group so the body is never assembled
 * in memory: the encoder needs no scratch buffer besides the output line. */
typedef struct b64_stream {
    uint8_t group[3];
    size_t group_len;
    char *p_out;
    size_t out_len;
} b64_stream_t;

static void b64_stream_flush(b64_stream_t *p_s)
{
    size_t written = 0;

    if (p_s->group_len > 0u) {
        /* Capacity was checked for the whole line up front, so 4 fit. */
        (void)prov_base64_encode(p_s->group, p_s->group_len, &p_s->p_out[p_s->out_len], 4u, &written);
        p_s->out_len += written;
        p_s->group_len = 0;
    }
}

static void b64_stream_put(b64_stream_t *p_s, const uint8_t *p_data, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        p_s->group[p_s->group_len] = p_data[i];
        p_s->group_len++;
        if (p_s->group_len == 3u) {
            b64_stream_flush(p_s);
        }
    }
}

prov_status_t prov_frame_encode(const prov_frame_t *p_frame, uint8_t *p_out, size_t out_cap, size_t *p_out_len)
{
    prov_status_t status = PROV_OK;
    uint8_t header[PROV_FRAME_HEADER_BYTES];
    uint8_t trailer[PROV_FRAME_CRC_BYTES];
    uint32_t crc;
    b64_stream_t stream;

    if ((p_frame == NULL) || (p_out == NULL) || (p_out_len == NULL) ||
        ((p_frame->p_payload == NULL) && (p_frame->payload_len > 0u))) {
        status = PROV_ERR_BAD_PARAM;
    } else if (p_frame->payload_len > PROV_FRAME_PAYLOAD_MAX) {
        status = PROV_ERR_OVERSIZE;
    } else if (out_cap < PROV_FRAME_LINE_BYTES_FOR(p_frame->payload_len)) {
        status = PROV_ERR_NO_SPACE;
    } else {
        header[0] = p_frame->version;
        header[1] = p_frame->type;
        header[2] = (uint8_t)(p_frame->seq >> 8);
        header[3] = (uint8_t)(p_frame->seq & 0xFFu);
        header[4] = p_frame->flags;
        crc = prov_crc32_update(PROV_CRC32_INIT, header, sizeof(header));
        crc = prov_crc32_update(crc, p_frame->p_payload, p_frame->payload_len);
        trailer[0] = (uint8_t)(crc >> 24);
        trailer[1] = (uint8_t)(crc >> 16);
        trailer[2] = (uint8_t)(crc >> 8);
        trailer[3] = (uint8_t)crc;

        p_out[0] = (uint8_t)PROV_FRAME_START_BYTE;
        stream.group_len = 0;
        stream.p_out = (char *)&p_out[1];
        stream.out_len = 0;
        b64_stream_put(&stream, header, sizeof(header));
        if (p_frame->payload_len > 0u) {
            b64_stream_put(&stream, p_frame->p_payload, p_frame->payload_len);
        }
        b64_stream_put(&stream, trailer, sizeof(trailer));
        b64_stream_flush(&stream);
        p_out[1u + stream.out_len] = (uint8_t)PROV_FRAME_END_BYTE;
        *p_out_len = stream.out_len + 2u;
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                   */
/* ------------------------------------------------------------------------ */

prov_status_t prov_frame_decode(const char *p_text, size_t text_len, uint8_t *p_body, size_t body_cap,
                                prov_frame_t *p_frame)
{
    prov_status_t status = PROV_OK;
    size_t body_len = 0;

    if (((p_text == NULL) && (text_len > 0u)) || ((p_body == NULL) && (body_cap > 0u)) || (p_frame == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        (void)memset(p_frame, 0, sizeof(*p_frame));
        status = prov_base64_decode(p_text, text_len, p_body, body_cap, &body_len);
        if (status == PROV_ERR_NO_SPACE) {
            /* Valid base64 longer than a buffer that holds any legal body. */
            status = (body_cap >= PROV_FRAME_BODY_MAX) ? PROV_ERR_OVERSIZE : PROV_ERR_NO_SPACE;
        } else if (status != PROV_OK) {
            status = PROV_ERR_BAD_BASE64;
        } else if (body_len < PROV_FRAME_OVERHEAD_BYTES) {
            status = PROV_ERR_TRUNCATED;
        } else if (body_len > PROV_FRAME_BODY_MAX) {
            status = PROV_ERR_OVERSIZE;
        } else {
            size_t crc_at = body_len - PROV_FRAME_CRC_BYTES;
            uint32_t want = ((uint32_t)p_body[crc_at] << 24) | ((uint32_t)p_body[crc_at + 1u] << 16) |
                            ((uint32_t)p_body[crc_at + 2u] << 8) | (uint32_t)p_body[crc_at + 3u];
            if (prov_crc32(p_body, crc_at) != want) {
                status = PROV_ERR_BAD_CRC;
            } else {
                p_frame->version = p_body[0];
                p_frame->type = p_body[1];
                p_frame->seq = (uint16_t)(((uint16_t)p_body[2] << 8) | (uint16_t)p_body[3]);
                p_frame->flags = p_body[4];
                p_frame->p_payload = &p_body[PROV_FRAME_HEADER_BYTES];
                p_frame->payload_len = crc_at - PROV_FRAME_HEADER_BYTES;
                if (p_frame->version != (uint8_t)PROV_PROTOCOL_VERSION) {
                    status = PROV_ERR_BAD_VERSION;
                }
            }
        }
    }
    return status;
}

const char *prov_frame_error_name(prov_status_t status)
{
    const char *p_name = NULL;

    switch (status) {
    case PROV_ERR_BAD_CHAR: p_name = "bad_char"; break;
    case PROV_ERR_OVERSIZE: p_name = "oversize"; break;
    case PROV_ERR_BAD_BASE64: p_name = "bad_base64"; break;
    case PROV_ERR_TRUNCATED: p_name = "truncated"; break;
    case PROV_ERR_BAD_CRC: p_name = "bad_crc"; break;
    case PROV_ERR_BAD_VERSION: p_name = "bad_version"; break;
    default: p_name = NULL; break;
    }
    return p_name;
}

/* ------------------------------------------------------------------------ */
/* Receiver                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_frame_char(uint8_t b)
{
    return ((b >= (uint8_t)'A') && (b <= (uint8_t)'Z')) || ((b >= (uint8_t)'a') && (b <= (uint8_t)'z')) ||
           ((b >= (uint8_t)'0') && (b <= (uint8_t)'9')) || (b == (uint8_t)'+') || (b == (uint8_t)'/') ||
           (b == (uint8_t)'=');
}

static void rx_emit_error(prov_rx_t *p_rx, prov_status_t error, const prov_frame_t *p_frame)
{
    prov_rx_event_t event;

    (void)memset(&event, 0, sizeof(event));
    event.kind = PROV_RX_EVENT_ERROR;
    event.error = error;
    if ((p_frame != NULL) && (error == PROV_ERR_BAD_VERSION)) {
        event.frame = *p_frame;
    }
    p_rx->frames_bad++;
    p_rx->callback(p_rx->p_context, &event);
}

static void rx_emit_log(prov_rx_t *p_rx)
{
    prov_rx_event_t event;

    if (p_rx->len > 0u) {
        (void)memset(&event, 0, sizeof(event));
        event.kind = PROV_RX_EVENT_LOG;
        event.p_log = p_rx->line;
        event.log_len = p_rx->len;
        p_rx->callback(p_rx->p_context, &event);
    }
    p_rx->len = 0;
}

static void rx_finish_frame(prov_rx_t *p_rx)
{
    prov_rx_event_t event;
    prov_frame_t frame;
    prov_status_t status;

    /* Decoded in place: the body overwrites the text it came from. */
    status = prov_frame_decode((const char *)p_rx->line, p_rx->len, p_rx->line, sizeof(p_rx->line), &frame);
    p_rx->mode = RX_MODE_TEXT;
    p_rx->len = 0;
    if (status == PROV_OK) {
        (void)memset(&event, 0, sizeof(event));
        event.kind = PROV_RX_EVENT_FRAME;
        event.frame = frame;
        event.error = PROV_OK;
        p_rx->frames_ok++;
        p_rx->callback(p_rx->p_context, &event);
    } else {
        rx_emit_error(p_rx, status, &frame);
    }
}

static void rx_text_byte(prov_rx_t *p_rx, uint8_t b)
{
    if (b == (uint8_t)PROV_FRAME_END_BYTE) {
        if ((p_rx->len > 0u) && (p_rx->line[p_rx->len - 1u] == (uint8_t)PROV_FRAME_CR_BYTE)) {
            p_rx->len--;
        }
        rx_emit_log(p_rx);
    } else if (b == (uint8_t)PROV_FRAME_START_BYTE) {
        rx_emit_log(p_rx);
        p_rx->mode = RX_MODE_FRAME;
    } else {
        /* A full buffer is emitted only when more text arrives, so a line of
         * exactly PROV_LOG_LINE_MAX bytes (plus CR) stays one piece. */
        if (p_rx->len >= PROV_LOG_LINE_MAX) {
            rx_emit_log(p_rx);
        }
        p_rx->line[p_rx->len] = b;
        p_rx->len++;
    }
}

static void rx_frame_byte(prov_rx_t *p_rx, uint8_t b)
{
    if (b == (uint8_t)PROV_FRAME_END_BYTE) {
        rx_finish_frame(p_rx);
    } else if (b == (uint8_t)PROV_FRAME_CR_BYTE) {
        /* ignored inside a frame line */
    } else if (!is_frame_char(b)) {
        p_rx->mode = RX_MODE_TEXT;
        p_rx->len = 0;
        rx_emit_error(p_rx, PROV_ERR_BAD_CHAR, NULL);
        rx_text_byte(p_rx, b);
    } else if (p_rx->len >= PROV_FRAME_LINE_MAX) {
        p_rx->mode = RX_MODE_SKIP;
        p_rx->len = 0;
        rx_emit_error(p_rx, PROV_ERR_OVERSIZE, NULL);
    } else {
        p_rx->line[p_rx->len] = b;
        p_rx->len++;
    }
}

prov_status_t prov_rx_init(prov_rx_t *p_rx, prov_rx_callback_t callback, void *p_context)
{
    prov_status_t status = PROV_OK;

    if ((p_rx == NULL) || (callback == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        p_rx->callback = callback;
        p_rx->p_context = p_context;
        p_rx->mode = RX_MODE_TEXT;
        p_rx->len = 0;
        p_rx->frames_ok = 0;
        p_rx->frames_bad = 0;
    }
    return status;
}

prov_status_t prov_rx_push(prov_rx_t *p_rx, const uint8_t *p_data, size_t len)
{
    prov_status_t status = PROV_OK;
    size_t i;

    if ((p_rx == NULL) || (p_rx->callback == NULL) || ((p_data == NULL) && (len > 0u))) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        for (i = 0; i < len; i++) {
            uint8_t b = p_data[i];
            if (p_rx->mode == RX_MODE_FRAME) {
                rx_frame_byte(p_rx, b);
            } else if (p_rx->mode == RX_MODE_SKIP) {
                if (b == (uint8_t)PROV_FRAME_END_BYTE) {
                    p_rx->mode = RX_MODE_TEXT;
                } else if (b == (uint8_t)PROV_FRAME_START_BYTE) {
                    p_rx->mode = RX_MODE_FRAME;
                    p_rx->len = 0;
                } else {
                    /* dropped: rest of an oversize line */
                }
            } else {
                /* Unknown modes (a corrupted struct) are treated as text. */
                p_rx->mode = RX_MODE_TEXT;
                rx_text_byte(p_rx, b);
            }
        }
    }
    return status;
}

void prov_rx_reset(prov_rx_t *p_rx)
{
    if (p_rx != NULL) {
        p_rx->mode = RX_MODE_TEXT;
        p_rx->len = 0;
    }
}
