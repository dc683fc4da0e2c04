/*
 * libFuzzer target: the frame receiver and decoder (protocol.md sections 2-3).
 *
 * Properties checked on every input, besides "no crash, no ASan/UBSan report":
 *  - fed whole and fed in pieces cut at input-derived points, the receiver
 *    emits exactly the same events;
 *  - every frame re-encodes and decodes back to itself;
 *  - log pieces are 1..PROV_LOG_LINE_MAX bytes, errors are frame errors.
 * The receiver is heap-allocated at its exact size so that a write past its
 * line buffer (the struct's last member) lands in an ASan redzone.
 */
#include <string.h>

#include "fuzz_common.h"
#include "prov/crc32.h"
#include "prov/frame.h"

typedef struct sink {
    uint64_t hash;
    size_t events;
} sink_t;

static uint8_t g_line[PROV_FRAME_LINE_BYTES_MAX];
static uint8_t g_body[PROV_FRAME_BODY_MAX + 4u];

static void check_frame(const prov_frame_t *p_frame)
{
    size_t line_len = 0;
    prov_frame_t again;

    FUZZ_CHECK(p_frame->version == PROV_PROTOCOL_VERSION);
    FUZZ_CHECK(p_frame->payload_len <= PROV_FRAME_PAYLOAD_MAX);
    FUZZ_CHECK(prov_frame_encode(p_frame, g_line, sizeof(g_line), &line_len) == PROV_OK);
    FUZZ_CHECK(prov_frame_decode((const char *)&g_line[1], line_len - 2u, g_body, sizeof(g_body), &again) == PROV_OK);
    FUZZ_CHECK(again.type == p_frame->type && again.seq == p_frame->seq && again.flags == p_frame->flags);
    FUZZ_CHECK(again.payload_len == p_frame->payload_len);
    FUZZ_CHECK(p_frame->payload_len == 0u || memcmp(again.p_payload, p_frame->p_payload, p_frame->payload_len) == 0);
}

static void on_event(void *p_context, const prov_rx_event_t *p_event)
{
    sink_t *p_sink = p_context;
    uint8_t kind = (uint8_t)p_event->kind;
    uint8_t error = (uint8_t)p_event->error;

    p_sink->events++;
    p_sink->hash = fuzz_hash(p_sink->hash, &kind, 1);
    p_sink->hash = fuzz_hash(p_sink->hash, &error, 1);
    switch (p_event->kind) {
    case PROV_RX_EVENT_FRAME:
        check_frame(&p_event->frame);
        p_sink->hash = fuzz_hash(p_sink->hash, &p_event->frame.type, 1);
        p_sink->hash = fuzz_hash(p_sink->hash, &p_event->frame.seq, 2);
        p_sink->hash = fuzz_hash(p_sink->hash, &p_event->frame.flags, 1);
        p_sink->hash = fuzz_hash(p_sink->hash, p_event->frame.p_payload, p_event->frame.payload_len);
        break;
    case PROV_RX_EVENT_LOG:
        FUZZ_CHECK(p_event->log_len >= 1u && p_event->log_len <= PROV_LOG_LINE_MAX);
        p_sink->hash = fuzz_hash(p_sink->hash, p_event->p_log, p_event->log_len);
        break;
    case PROV_RX_EVENT_ERROR:
        FUZZ_CHECK(prov_frame_error_name(p_event->error) != NULL);
        if (p_event->error == PROV_ERR_BAD_VERSION) {
            FUZZ_CHECK(p_event->frame.version != PROV_PROTOCOL_VERSION);
            p_sink->hash = fuzz_hash(p_sink->hash, &p_event->frame.seq, 2);
        }
        break;
    default:
        FUZZ_CHECK(0);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *p_data, size_t len)
{
    prov_rx_t *p_rx = malloc(sizeof(prov_rx_t));
    sink_t whole = {FUZZ_HASH_INIT, 0};
    sink_t pieces = {FUZZ_HASH_INIT, 0};
    uint32_t cut = prov_crc32(p_data, len);
    size_t at = 0;

    FUZZ_CHECK(p_rx != NULL);
    FUZZ_CHECK(prov_rx_init(p_rx, on_event, &whole) == PROV_OK);
    FUZZ_CHECK(prov_rx_push(p_rx, p_data, len) == PROV_OK);

    /* same bytes in pieces of 0..63 bytes at points derived from the input */
    FUZZ_CHECK(prov_rx_init(p_rx, on_event, &pieces) == PROV_OK);
    while (at < len) {
        size_t n;
        cut = (cut * 1103515245u) + 12345u;
        n = (size_t)((cut >> 16) & 0x3Fu);
        if (n > len - at) {
            n = len - at;
        }
        FUZZ_CHECK(prov_rx_push(p_rx, &p_data[at], n) == PROV_OK);
        at += n;
    }
    FUZZ_CHECK(whole.events == pieces.events);
    FUZZ_CHECK(whole.hash == pieces.hash);
    FUZZ_CHECK(p_rx->frames_ok + p_rx->frames_bad <= pieces.events);
    free(p_rx);

    /* the decoder alone on the raw input, into a body buffer of exactly the
     * documented size */
    {
        size_t cap = PROV_BASE64_DECODED_MAX(len);
        uint8_t *p_body = malloc(cap + 1u);
        prov_frame_t frame;
        prov_status_t s;
        FUZZ_CHECK(p_body != NULL);
        s = prov_frame_decode((const char *)p_data, len, p_body, cap, &frame);
        FUZZ_CHECK(s == PROV_OK || prov_frame_error_name(s) != NULL || s == PROV_ERR_NO_SPACE);
        if (s == PROV_OK) {
            check_frame(&frame);
        }
        free(p_body);
    }
    return 0;
}
