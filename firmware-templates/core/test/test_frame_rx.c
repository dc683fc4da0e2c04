/* The frame receiver (protocol.md section 3): frames, log lines and garbage
 * in one byte stream, fed whole and byte at a time (the same events both
 * ways). Expected line bytes were computed independently with Python. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prov/frame.h"

/* ---- event recorder --------------------------------------------------- */

#define REC_MAX 64

typedef struct rec_event {
    prov_rx_event_kind_t kind;
    prov_status_t error;
    uint8_t version, type, flags;
    uint16_t seq;
    uint8_t data[PROV_FRAME_BODY_MAX]; /* payload or log bytes */
    size_t len;
} rec_event_t;

typedef struct recorder {
    rec_event_t ev[REC_MAX];
    size_t n;
} recorder_t;

static void record(void *p_context, const prov_rx_event_t *p_event)
{
    recorder_t *p_rec = p_context;
    rec_event_t *p_e;

    assert_true(p_rec->n < REC_MAX);
    p_e = &p_rec->ev[p_rec->n++];
    memset(p_e, 0, sizeof(*p_e));
    p_e->kind = p_event->kind;
    p_e->error = p_event->error;
    if ((p_event->kind == PROV_RX_EVENT_FRAME) || (p_event->error == PROV_ERR_BAD_VERSION)) {
        p_e->version = p_event->frame.version;
        p_e->type = p_event->frame.type;
        p_e->seq = p_event->frame.seq;
        p_e->flags = p_event->frame.flags;
        assert_true(p_event->frame.payload_len <= sizeof(p_e->data));
        if (p_event->frame.payload_len > 0u) {
            memcpy(p_e->data, p_event->frame.p_payload, p_event->frame.payload_len);
        }
        p_e->len = p_event->frame.payload_len;
    } else if (p_event->kind == PROV_RX_EVENT_LOG) {
        assert_true((p_event->log_len >= 1u) && (p_event->log_len <= PROV_LOG_LINE_MAX));
        memcpy(p_e->data, p_event->p_log, p_event->log_len);
        p_e->len = p_event->log_len;
    }
}

static prov_rx_t g_rx;
static recorder_t g_whole;
static recorder_t g_bytewise;

/* Feeds the stream whole and byte at a time into fresh receivers; both must
 * produce the same events. Leaves the events in g_whole. */
static void feed(const uint8_t *p_wire, size_t len)
{
    size_t i;

    memset(&g_whole, 0, sizeof(g_whole));
    memset(&g_bytewise, 0, sizeof(g_bytewise));
    assert_int_equal(prov_rx_init(&g_rx, record, &g_whole), PROV_OK);
    assert_int_equal(prov_rx_push(&g_rx, p_wire, len), PROV_OK);
    assert_int_equal(prov_rx_init(&g_rx, record, &g_bytewise), PROV_OK);
    for (i = 0; i < len; i++) {
        assert_int_equal(prov_rx_push(&g_rx, &p_wire[i], 1), PROV_OK);
    }
    assert_int_equal(g_whole.n, g_bytewise.n);
    for (i = 0; i < g_whole.n; i++) {
        assert_int_equal(g_whole.ev[i].kind, g_bytewise.ev[i].kind);
        assert_int_equal(g_whole.ev[i].error, g_bytewise.ev[i].error);
        assert_int_equal(g_whole.ev[i].len, g_bytewise.ev[i].len);
        assert_memory_equal(g_whole.ev[i].data, g_bytewise.ev[i].data, g_whole.ev[i].len);
    }
}

static void feed_str(const char *p_wire)
{
    feed((const uint8_t *)p_wire, strlen(p_wire));
}

static void expect_log(size_t i, const char *p_text)
{
    assert_true(i < g_whole.n);
    assert_int_equal(g_whole.ev[i].kind, PROV_RX_EVENT_LOG);
    assert_int_equal(g_whole.ev[i].len, strlen(p_text));
    assert_memory_equal(g_whole.ev[i].data, p_text, strlen(p_text));
}

static void expect_error(size_t i, prov_status_t error)
{
    assert_true(i < g_whole.n);
    assert_int_equal(g_whole.ev[i].kind, PROV_RX_EVENT_ERROR);
    assert_int_equal(g_whole.ev[i].error, error);
}

static void expect_frame(size_t i, uint8_t type, uint16_t seq)
{
    assert_true(i < g_whole.n);
    assert_int_equal(g_whole.ev[i].kind, PROV_RX_EVENT_FRAME);
    assert_int_equal(g_whole.ev[i].version, 1);
    assert_int_equal(g_whole.ev[i].type, type);
    assert_int_equal(g_whole.ev[i].seq, seq);
}

/* STATUS response seq 0x1234, payload 00 07 00 01 03 (Python-computed) */
#define GOOD_LINE "\x1e" "AQISNAEABwABA5aVFz4=\n"

static void test_rx_single_frame_and_crlf(void **state)
{
    (void)state;
    feed_str(GOOD_LINE);
    assert_int_equal(g_whole.n, 1u);
    expect_frame(0, 2, 0x1234);
    assert_int_equal(g_whole.ev[0].flags, 1);
    assert_int_equal(g_whole.ev[0].len, 5u);
    assert_memory_equal(g_whole.ev[0].data, "\x00\x07\x00\x01\x03", 5);

    feed_str("\x1e" "AQISNAEA\rBwABA5aVFz4=\r\n");
    assert_int_equal(g_whole.n, 1u);
    expect_frame(0, 2, 0x1234);
}

static void test_rx_log_lines(void **state)
{
    (void)state;
    feed_str("\n\r\n\nI (1) x\r\nplain\nend with cr\r\r\n" "partial\r" GOOD_LINE "tail without newline");
    assert_int_equal(g_whole.n, 5u);
    expect_log(0, "I (1) x");
    expect_log(1, "plain");
    expect_log(2, "end with cr\r"); /* only one trailing CR is stripped */
    expect_log(3, "partial\r");     /* 0x1E ends the line, CR kept */
    expect_frame(4, 2, 0x1234);
}

static void test_rx_log_split_at_log_line_max(void **state)
{
    static uint8_t wire[3 * PROV_LOG_LINE_MAX];
    size_t n = 0;
    size_t i;

    (void)state;
    /* exactly LOG_LINE_MAX + CRLF: one piece */
    for (i = 0; i < PROV_LOG_LINE_MAX; i++) {
        wire[n++] = 'a';
    }
    wire[n++] = '\r';
    wire[n++] = '\n';
    /* LOG_LINE_MAX + 1: two pieces, 1024 and 1 */
    for (i = 0; i < PROV_LOG_LINE_MAX + 1u; i++) {
        wire[n++] = 'b';
    }
    wire[n++] = '\n';
    feed(wire, n);
    assert_int_equal(g_whole.n, 3u);
    assert_int_equal(g_whole.ev[0].len, PROV_LOG_LINE_MAX);
    assert_int_equal(g_whole.ev[0].data[PROV_LOG_LINE_MAX - 1u], 'a');
    assert_int_equal(g_whole.ev[1].len, PROV_LOG_LINE_MAX);
    expect_log(2, "b");
}

static void test_rx_bad_char_reprocesses_byte(void **state)
{
    (void)state;
    /* a log line cuts into a frame: its 'I' joins the frame, the space is the
     * bad char and is processed again as log text */
    feed_str("\x1e" "AQISI (2) x\n" GOOD_LINE);
    assert_int_equal(g_whole.n, 3u);
    expect_error(0, PROV_ERR_BAD_CHAR);
    expect_log(1, " (2) x");
    expect_frame(2, 2, 0x1234);
    /* a start marker inside a frame starts a new one */
    feed_str("\x1e" "AQIS" GOOD_LINE);
    assert_int_equal(g_whole.n, 2u);
    expect_error(0, PROV_ERR_BAD_CHAR);
    expect_frame(1, 2, 0x1234);
    assert_int_equal(g_rx.frames_ok, 1u);
    assert_int_equal(g_rx.frames_bad, 1u);
}

static void test_rx_oversize_line_skips(void **state)
{
    static uint8_t wire[PROV_FRAME_LINE_MAX + 64u];
    size_t n = 0;
    size_t i;

    (void)state;
    wire[n++] = 0x1E;
    for (i = 0; i < PROV_FRAME_LINE_MAX + 5u; i++) {
        wire[n++] = 'A';
    }
    memcpy(&wire[n], " junk\nI (9) next\n", 17);
    n += 17;
    feed(wire, n);
    assert_int_equal(g_whole.n, 2u);
    expect_error(0, PROV_ERR_OVERSIZE);
    expect_log(1, "I (9) next");

    /* the skipped line ended by a start marker */
    n = 1u + PROV_FRAME_LINE_MAX + 1u;
    memcpy(&wire[n], GOOD_LINE, strlen(GOOD_LINE));
    n += strlen(GOOD_LINE);
    feed(wire, n);
    assert_int_equal(g_whole.n, 2u);
    expect_error(0, PROV_ERR_OVERSIZE);
    expect_frame(1, 2, 0x1234);

    /* exactly FRAME_LINE_MAX characters is not oversize at line level */
    n = 1u + PROV_FRAME_LINE_MAX;
    wire[n++] = '\n';
    feed(wire, n);
    assert_int_equal(g_whole.n, 1u);
    expect_error(0, PROV_ERR_OVERSIZE); /* 2052-byte body: oversize by the body rule */
}

static void test_rx_decode_errors_are_events(void **state)
{
    (void)state;
    feed_str("\x1e\n" "\x1e" "AQI\n" "\x1e" "AQISNAEABwABA5aVFz8=\n" "\x1e" "AgESNACg1kfx\n" GOOD_LINE);
    assert_int_equal(g_whole.n, 5u);
    expect_error(0, PROV_ERR_TRUNCATED);
    expect_error(1, PROV_ERR_BAD_BASE64);
    expect_error(2, PROV_ERR_BAD_CRC);
    expect_error(3, PROV_ERR_BAD_VERSION);
    assert_int_equal(g_whole.ev[3].version, 2);
    assert_int_equal(g_whole.ev[3].type, 1);
    assert_int_equal(g_whole.ev[3].seq, 0x1234);
    expect_frame(4, 2, 0x1234);
}

static void test_rx_garbage_then_frame(void **state)
{
    static uint8_t wire[8192];
    size_t n = 0;
    uint32_t x = 12345u;
    size_t i;

    (void)state;
    for (i = 0; i < 6000u; i++) {
        x = x * 1103515245u + 12345u;
        wire[n++] = (uint8_t)(x >> 16);
    }
    wire[n++] = '\n';
    memcpy(&wire[n], GOOD_LINE, strlen(GOOD_LINE));
    n += strlen(GOOD_LINE);
    feed(wire, n);
    assert_true(g_whole.n >= 1u);
    expect_frame(g_whole.n - 1u, 2, 0x1234);
}

static void test_rx_reset_and_params(void **state)
{
    recorder_t rec;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(prov_rx_init(NULL, record, &rec), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_rx_init(&g_rx, NULL, &rec), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_rx_init(&g_rx, record, &rec), PROV_OK);
    assert_int_equal(prov_rx_push(NULL, (const uint8_t *)"x", 1), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_rx_push(&g_rx, NULL, 1), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_rx_push(&g_rx, NULL, 0), PROV_OK);
    /* half a frame, then reset: the rest is plain log text */
    assert_int_equal(prov_rx_push(&g_rx, (const uint8_t *)"\x1e" "AQIS", 5), PROV_OK);
    prov_rx_reset(&g_rx);
    assert_int_equal(prov_rx_push(&g_rx, (const uint8_t *)"NAEA\n", 5), PROV_OK);
    assert_int_equal(rec.n, 1u);
    assert_int_equal(rec.ev[0].kind, PROV_RX_EVENT_LOG);
    assert_int_equal(rec.ev[0].len, 4u);
    prov_rx_reset(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rx_single_frame_and_crlf),
        cmocka_unit_test(test_rx_log_lines),
        cmocka_unit_test(test_rx_log_split_at_log_line_max),
        cmocka_unit_test(test_rx_bad_char_reprocesses_byte),
        cmocka_unit_test(test_rx_oversize_line_skips),
        cmocka_unit_test(test_rx_decode_errors_are_events),
        cmocka_unit_test(test_rx_garbage_then_frame),
        cmocka_unit_test(test_rx_reset_and_params),
    };
    return cmocka_run_group_tests_name("frame_rx", tests, NULL, NULL);
}
