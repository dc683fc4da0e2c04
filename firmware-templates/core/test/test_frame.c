/* Frame encoder and decoder (protocol.md sections 2 and 3; the receiver:
 * test_frame_rx.c). Expected line bytes were computed independently with
 * Python's zlib and base64 modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prov/frame.h"

/* STATUS response seq 0x1234, payload 00 07 00 01 03 (Python-computed) */
#define GOOD_LINE "\x1e" "AQISNAEABwABA5aVFz4=\n"

/* ---- encoder ------------------------------------------------------------ */

static void test_encode_known_lines(void **state)
{
    static const uint8_t status_payload[] = {0x00, 0x07, 0x00, 0x01, 0x03};
    uint8_t payload10[10];
    uint8_t out[64];
    size_t len = 0;
    prov_frame_t f;
    size_t i;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.version = 1;
    f.type = PROV_MSG_PING;
    f.seq = 1;
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_OK);
    assert_int_equal(len, 14u);
    assert_memory_equal(out, "\x1e" "AQMAAQDw7EAC\n", 14);

    f.type = PROV_MSG_STATUS;
    f.seq = 0x1234;
    f.flags = PROV_FLAG_RESPONSE;
    f.p_payload = status_payload;
    f.payload_len = sizeof(status_payload);
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_OK);
    assert_int_equal(len, strlen(GOOD_LINE));
    assert_memory_equal(out, GOOD_LINE, len);

    for (i = 0; i < sizeof(payload10); i++) {
        payload10[i] = (uint8_t)i;
    }
    f.type = PROV_MSG_EVENT;
    f.seq = 65535;
    f.flags = 0xFF;
    f.p_payload = payload10;
    f.payload_len = sizeof(payload10);
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_OK);
    assert_int_equal(len, PROV_FRAME_LINE_BYTES_FOR(10));
    assert_memory_equal(out, "\x1e" "AXD///8AAQIDBAUGBwgJM226Ew==\n", len);

    memset(&f, 0, sizeof(f));
    f.version = 2;
    f.type = 1;
    f.seq = 0x1234;
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_OK);
    assert_memory_equal(out, "\x1e" "AgESNACg1kfx\n", len);
}

static void test_encode_limits(void **state)
{
    static uint8_t payload[PROV_FRAME_PAYLOAD_MAX + 1u];
    static uint8_t out[PROV_FRAME_LINE_BYTES_MAX + 8u];
    prov_frame_t f;
    size_t len = 0;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.version = 1;
    f.type = 3;
    f.p_payload = payload;
    f.payload_len = PROV_FRAME_PAYLOAD_MAX;
    assert_int_equal(prov_frame_encode(&f, out, PROV_FRAME_LINE_BYTES_MAX, &len), PROV_OK);
    assert_int_equal(len, PROV_FRAME_LINE_BYTES_MAX);
    assert_true(len - 2u <= PROV_FRAME_LINE_MAX);
    assert_int_equal(prov_frame_encode(&f, out, PROV_FRAME_LINE_BYTES_MAX - 1u, &len), PROV_ERR_NO_SPACE);
    f.payload_len = PROV_FRAME_PAYLOAD_MAX + 1u;
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_ERR_OVERSIZE);
    f.p_payload = NULL;
    f.payload_len = 1;
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), &len), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_frame_encode(NULL, out, sizeof(out), &len), PROV_ERR_BAD_PARAM);
    f.payload_len = 0;
    assert_int_equal(prov_frame_encode(&f, NULL, sizeof(out), &len), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_frame_encode(&f, out, sizeof(out), NULL), PROV_ERR_BAD_PARAM);
}

static void test_encode_decode_round_trip_all_sizes(void **state)
{
    static uint8_t payload[PROV_FRAME_PAYLOAD_MAX];
    static uint8_t line[PROV_FRAME_LINE_BYTES_MAX];
    static uint8_t body[PROV_FRAME_BODY_MAX + 4u];
    prov_frame_t f;
    prov_frame_t got;
    size_t len = 0;
    size_t n;

    (void)state;
    for (n = 0; n < sizeof(payload); n++) {
        payload[n] = (uint8_t)((n * 131u) ^ (n >> 3));
    }
    for (n = 0; n <= PROV_FRAME_PAYLOAD_MAX; n++) {
        memset(&f, 0, sizeof(f));
        f.version = 1;
        f.type = (uint8_t)n;
        f.seq = (uint16_t)(n * 37u);
        f.flags = (uint8_t)(n >> 2);
        f.p_payload = payload;
        f.payload_len = n;
        assert_int_equal(prov_frame_encode(&f, line, sizeof(line), &len), PROV_OK);
        assert_int_equal(len, PROV_FRAME_LINE_BYTES_FOR(n));
        assert_int_equal(line[0], 0x1E);
        assert_int_equal(line[len - 1u], 0x0A);
        assert_int_equal(prov_frame_decode((const char *)&line[1], len - 2u, body, sizeof(body), &got), PROV_OK);
        assert_int_equal(got.type, f.type);
        assert_int_equal(got.seq, f.seq);
        assert_int_equal(got.flags, f.flags);
        assert_int_equal(got.payload_len, n);
        assert_memory_equal(got.p_payload, payload, n);
    }
}

/* ---- decoder ------------------------------------------------------------ */

static void test_decode_error_order(void **state)
{
    uint8_t body[PROV_FRAME_BODY_MAX + 4u];
    prov_frame_t f;

    (void)state;
    /* 1. bad base64 wins over everything */
    assert_int_equal(prov_frame_decode("AQIS=AEA", 8, body, sizeof(body), &f), PROV_ERR_BAD_BASE64);
    assert_int_equal(prov_frame_decode("AQI", 3, body, sizeof(body), &f), PROV_ERR_BAD_BASE64);
    /* 2. truncated: 8 bytes, and empty */
    assert_int_equal(prov_frame_decode("AQMAAQDw7EA=", 12, body, sizeof(body), &f), PROV_ERR_TRUNCATED);
    assert_int_equal(prov_frame_decode("", 0, body, sizeof(body), &f), PROV_ERR_TRUNCATED);
    /* 4. bad CRC (last character of a good line changed) */
    assert_int_equal(prov_frame_decode("AQISNAEABwABA5aVFz8=", 20, body, sizeof(body), &f), PROV_ERR_BAD_CRC);
    /* 5. bad version 2, header still reported */
    assert_int_equal(prov_frame_decode("AgESNACg1kfx", 12, body, sizeof(body), &f), PROV_ERR_BAD_VERSION);
    assert_int_equal(f.version, 2);
    assert_int_equal(f.type, 1);
    assert_int_equal(f.seq, 0x1234);
    /* good */
    assert_int_equal(prov_frame_decode("AQISNAEABwABA5aVFz4=", 20, body, sizeof(body), &f), PROV_OK);
    assert_int_equal(f.payload_len, 5u);
    assert_int_equal(prov_frame_decode(NULL, 4, body, sizeof(body), &f), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_frame_decode("AAAA", 4, body, sizeof(body), NULL), PROV_ERR_BAD_PARAM);
}

static void test_decode_oversize_body(void **state)
{
    /* 2049-byte body, valid CRC: base64 of 2049 bytes is 2732 characters. */
    static uint8_t raw[2049];
    static char text[PROV_BASE64_ENCODED_LEN(2049)];
    static uint8_t body[PROV_FRAME_BODY_MAX + 4u];
    size_t text_len = 0;
    prov_frame_t f;

    (void)state;
    memset(raw, 0x41, sizeof(raw));
    raw[0] = 1;
    assert_int_equal(prov_base64_encode(raw, sizeof(raw), text, sizeof(text), &text_len), PROV_OK);
    assert_true(text_len <= PROV_FRAME_LINE_MAX);
    assert_int_equal(prov_frame_decode(text, text_len, body, sizeof(body), &f), PROV_ERR_OVERSIZE);
    assert_string_equal(prov_frame_error_name(PROV_ERR_OVERSIZE), "oversize");
    assert_null(prov_frame_error_name(PROV_OK));
}

/* ---- receiver ----------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_known_lines),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_encode_decode_round_trip_all_sizes),
        cmocka_unit_test(test_decode_error_order),
        cmocka_unit_test(test_decode_oversize_body),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
