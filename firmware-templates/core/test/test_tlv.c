/* TLV writer and reader (protocol.md section 5.1). Expected bytes are
 * written out from the spec's layout: tag(1) length(2, BE) value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prov/tlv.h"

static void test_writer_typed_fields(void **state)
{
    static const uint8_t expected[] = {
        0x00,                                                 /* raw status byte */
        0x01, 0x00, 0x01, 0x07,                               /* u8 7 */
        0x02, 0x00, 0x02, 0x12, 0x34,                         /* u16 0x1234 */
        0x03, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF,             /* u32 */
        0x04, 0x00, 0x03, 'a', 'b', 'c',                      /* str */
        0x05, 0x00, 0x00,                                     /* empty bytes */
        0x09, 0x00, 0x08, 0x00, 0x01, 0xC2, 0x00, 0x00, 0x0E, 0x10, 0x00, /* u32list 115200, 921600 */
    };
    static const uint32_t bauds[] = {115200u, 921600u};
    uint8_t buf[64];
    prov_tlv_writer_t w;
    const uint8_t status = 0;

    (void)state;
    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_raw(&w, &status, 1), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 1, 7), PROV_OK);
    assert_int_equal(prov_tlv_put_u16(&w, 2, 0x1234), PROV_OK);
    assert_int_equal(prov_tlv_put_u32(&w, 3, 0xDEADBEEFu), PROV_OK);
    assert_int_equal(prov_tlv_put_str(&w, 4, "abc"), PROV_OK);
    assert_int_equal(prov_tlv_put_bytes(&w, 5, NULL, 0), PROV_OK);
    assert_int_equal(prov_tlv_put_u32list(&w, 9, bauds, 2), PROV_OK);
    assert_int_equal(prov_tlv_writer_status(&w), PROV_OK);
    assert_int_equal(prov_tlv_writer_len(&w), sizeof(expected));
    assert_memory_equal(buf, expected, sizeof(expected));
}

static void test_writer_overflow_is_sticky_and_atomic(void **state)
{
    uint8_t buf[8];
    prov_tlv_writer_t w;

    (void)state;
    memset(buf, 0xAA, sizeof(buf));
    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 1, 1), PROV_OK);              /* 4 bytes */
    assert_int_equal(prov_tlv_put_u16(&w, 2, 2), PROV_ERR_NO_SPACE);   /* 5 bytes do not fit in 4 */
    assert_int_equal(prov_tlv_writer_len(&w), 4u);
    assert_int_equal(buf[4], 0xAA);                                   /* nothing of it written */
    assert_int_equal(prov_tlv_put_u8(&w, 3, 1), PROV_ERR_NO_SPACE);    /* would fit, but sticky */
    assert_int_equal(prov_tlv_writer_status(&w), PROV_ERR_NO_SPACE);
    assert_int_equal(prov_tlv_writer_len(&w), 4u);

    /* exact fit */
    assert_int_equal(prov_tlv_writer_init(&w, buf, 7), PROV_OK);
    assert_int_equal(prov_tlv_put_u32(&w, 1, 5), PROV_OK);
    assert_int_equal(prov_tlv_writer_len(&w), 7u);
    assert_int_equal(prov_tlv_put_bytes(&w, 2, NULL, 0), PROV_ERR_NO_SPACE);
    /* header does not fit */
    assert_int_equal(prov_tlv_writer_init(&w, buf, 2), PROV_OK);
    assert_int_equal(prov_tlv_put_bytes(&w, 2, NULL, 0), PROV_ERR_NO_SPACE);
    /* u32list that does not fit writes nothing */
    {
        static const uint32_t v[2] = {1, 2};
        memset(buf, 0xAA, sizeof(buf));
        assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
        assert_int_equal(prov_tlv_put_u32list(&w, 1, v, 2), PROV_ERR_NO_SPACE);
        assert_int_equal(prov_tlv_writer_len(&w), 0u);
        assert_int_equal(buf[0], 0xAA);
    }
}

static void test_writer_tag_order_and_params(void **state)
{
    uint8_t buf[32];
    uint8_t big[1];
    prov_tlv_writer_t w;

    (void)state;
    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 0, 1), PROV_OK); /* tag 0 is allowed first */
    assert_int_equal(prov_tlv_put_u8(&w, 5, 1), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 5, 1), PROV_ERR_TAG_ORDER);
    assert_int_equal(prov_tlv_writer_len(&w), 8u);

    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 5, 1), PROV_OK);
    assert_int_equal(prov_tlv_put_u8(&w, 4, 1), PROV_ERR_TAG_ORDER);

    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_str(&w, 1, NULL), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_writer_status(&w), PROV_ERR_BAD_PARAM);

    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put(&w, 1, big, 65536u), PROV_ERR_TOO_LARGE);

    assert_int_equal(prov_tlv_writer_init(&w, NULL, 10), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_put_u8(&w, 1, 1), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_writer_init(NULL, buf, 10), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_put_u8(NULL, 1, 1), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_writer_len(NULL), 0u);
}

static void test_reader_walks_fields(void **state)
{
    static const uint8_t payload[] = {
        0x07, 0x00, 0x01, 0x03,             /* state */
        0x99, 0x00, 0x02, 0xAA, 0xBB,       /* unknown tag: still iterated */
        0x01, 0x00, 0x00,                   /* empty */
    };
    prov_tlv_reader_t r;
    prov_tlv_field_t f;

    (void)state;
    assert_int_equal(prov_tlv_reader_init(&r, payload, sizeof(payload)), PROV_OK);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_OK);
    assert_int_equal(f.tag, 7);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.p_value[0], 3);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_OK);
    assert_int_equal(f.tag, 0x99);
    assert_int_equal(f.len, 2);
    assert_ptr_equal(f.p_value, &payload[7]);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_OK);
    assert_int_equal(f.tag, 1);
    assert_int_equal(f.len, 0);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_END);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_END);

    assert_int_equal(prov_tlv_reader_init(&r, NULL, 0), PROV_OK);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_END);
    assert_int_equal(prov_tlv_reader_init(&r, NULL, 1), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_next(NULL, &f), PROV_ERR_BAD_PARAM);
}

static void test_reader_rejects_overruns(void **state)
{
    static const uint8_t short_header[] = {0x01, 0x00};
    static const uint8_t overrun[] = {0x01, 0x00, 0x01, 0x05, 0x02, 0x00, 0x05, 0x01, 0x02};
    static const uint8_t huge_len[] = {0x01, 0xFF, 0xFF, 0x00};
    prov_tlv_reader_t r;
    prov_tlv_field_t f;
    size_t n;

    (void)state;
    assert_int_equal(prov_tlv_validate(short_header, sizeof(short_header)), PROV_ERR_MALFORMED);
    assert_int_equal(prov_tlv_validate(huge_len, sizeof(huge_len)), PROV_ERR_MALFORMED);
    assert_int_equal(prov_tlv_reader_init(&r, overrun, sizeof(overrun)), PROV_OK);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_OK);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_ERR_MALFORMED);
    assert_int_equal(prov_tlv_next(&r, &f), PROV_ERR_MALFORMED); /* stays put */
    /* find reports the bad tail even though tag 1 is fine */
    assert_int_equal(prov_tlv_find(overrun, sizeof(overrun), 1, &f), PROV_ERR_MALFORMED);
    /* every truncation of a valid payload that cuts a field is malformed */
    {
        static const uint8_t good[] = {0x01, 0x00, 0x02, 0x0A, 0x0B, 0x02, 0x00, 0x01, 0x0C};
        for (n = 0; n <= sizeof(good); n++) {
            prov_status_t expect = ((n == 0u) || (n == 5u) || (n == sizeof(good))) ? PROV_OK : PROV_ERR_MALFORMED;
            assert_int_equal(prov_tlv_validate(good, n), expect);
        }
    }
}

static void test_find_typed(void **state)
{
    static const uint8_t payload[] = {
        0x01, 0x00, 0x01, 0x02,                         /* u8 2 */
        0x02, 0x00, 0x02, 0x01, 0xF4,                   /* u16 500 */
        0x03, 0x00, 0x04, 0x00, 0x0E, 0x10, 0x00,       /* u32 921600 */
        0x04, 0x00, 0x04, 'L', 'O', 'C', 'K',           /* str */
        0x05, 0x00, 0x03, 'a', 0x00, 'b',               /* str with NUL */
        0x06, 0x00, 0x08, 0, 0, 0, 1, 0, 0, 0, 2,       /* u32list */
        0x01, 0x00, 0x01, 0x09,                         /* duplicate tag 1: first wins */
    };
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    const char *p_str = NULL;
    size_t len = 0;
    char cstr[5];
    const uint8_t *p_bytes = NULL;
    prov_tlv_field_t f;
    size_t count = 0;

    (void)state;
    assert_int_equal(prov_tlv_find_u8(payload, sizeof(payload), 1, &u8), PROV_OK);
    assert_int_equal(u8, 2);
    assert_int_equal(prov_tlv_find_u16(payload, sizeof(payload), 2, &u16), PROV_OK);
    assert_int_equal(u16, 500);
    assert_int_equal(prov_tlv_find_u32(payload, sizeof(payload), 3, &u32), PROV_OK);
    assert_int_equal(u32, 921600u);
    assert_int_equal(prov_tlv_find_str(payload, sizeof(payload), 4, &p_str, &len), PROV_OK);
    assert_int_equal(len, 4u);
    assert_memory_equal(p_str, "LOCK", 4);
    assert_int_equal(prov_tlv_find_cstr(payload, sizeof(payload), 4, cstr, sizeof(cstr)), PROV_OK);
    assert_string_equal(cstr, "LOCK");
    memset(cstr, 'x', sizeof(cstr));
    assert_int_equal(prov_tlv_find_cstr(payload, sizeof(payload), 4, cstr, 4), PROV_ERR_TOO_LARGE);
    assert_int_equal(cstr[0], 'x');
    assert_int_equal(prov_tlv_find_str(payload, sizeof(payload), 5, &p_str, &len), PROV_ERR_BAD_VALUE);
    assert_int_equal(prov_tlv_find_bytes(payload, sizeof(payload), 5, &p_bytes, &len), PROV_OK);
    assert_int_equal(len, 3u);
    assert_int_equal(prov_tlv_find(payload, sizeof(payload), 6, &f), PROV_OK);
    assert_int_equal(prov_tlv_field_u32list_count(&f, &count), PROV_OK);
    assert_int_equal(count, 2u);
    assert_int_equal(prov_tlv_field_u32list_at(&f, 1), 2u);
    assert_int_equal(prov_tlv_field_u32list_at(&f, 2), 0u); /* out of range */

    /* wrong integer lengths */
    u8 = 77;
    assert_int_equal(prov_tlv_find_u8(payload, sizeof(payload), 2, &u8), PROV_ERR_BAD_LENGTH);
    assert_int_equal(u8, 77);
    assert_int_equal(prov_tlv_find_u16(payload, sizeof(payload), 1, &u16), PROV_ERR_BAD_LENGTH);
    assert_int_equal(prov_tlv_find_u32(payload, sizeof(payload), 4 + 0, &u32), PROV_OK); /* "LOCK" is 4 bytes */
    assert_int_equal(prov_tlv_find_u32(payload, sizeof(payload), 2, &u32), PROV_ERR_BAD_LENGTH);
    assert_int_equal(prov_tlv_find(payload, sizeof(payload), 4, &f), PROV_OK);
    f.len = 3;
    assert_int_equal(prov_tlv_field_u32list_count(&f, &count), PROV_ERR_BAD_LENGTH);

    assert_int_equal(prov_tlv_find_u8(payload, sizeof(payload), 0x42, &u8), PROV_ERR_NOT_FOUND);
    assert_int_equal(prov_tlv_find_u8(payload, sizeof(payload), 1, NULL), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_tlv_find(NULL, 0, 1, &f), PROV_ERR_NOT_FOUND);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_NOT_FOUND), PROV_CODE_ERR_BAD_PAYLOAD);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_BAD_LENGTH), PROV_CODE_ERR_BAD_PAYLOAD);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_MALFORMED), PROV_CODE_ERR_BAD_PAYLOAD);
}

static void test_round_trip_through_writer(void **state)
{
    uint8_t buf[600];
    uint8_t copy[600];
    uint8_t value[300];
    prov_tlv_writer_t w;
    prov_tlv_reader_t r;
    prov_tlv_field_t f;
    prov_status_t s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(value); i++) {
        value[i] = (uint8_t)i;
    }
    assert_int_equal(prov_tlv_writer_init(&w, buf, sizeof(buf)), PROV_OK);
    assert_int_equal(prov_tlv_put_bytes(&w, 1, value, 300), PROV_OK); /* length 0x012C: both length bytes used */
    assert_int_equal(prov_tlv_put_bytes(&w, 0x12, value, 255), PROV_OK);
    assert_int_equal(buf[1], 0x01);
    assert_int_equal(buf[2], 0x2C);
    /* reading and re-writing reproduces the bytes */
    assert_int_equal(prov_tlv_reader_init(&r, buf, prov_tlv_writer_len(&w)), PROV_OK);
    {
        prov_tlv_writer_t w2;
        assert_int_equal(prov_tlv_writer_init(&w2, copy, sizeof(copy)), PROV_OK);
        while ((s = prov_tlv_next(&r, &f)) == PROV_OK) {
            assert_int_equal(prov_tlv_put(&w2, f.tag, f.p_value, f.len), PROV_OK);
        }
        assert_int_equal(s, PROV_END);
        assert_int_equal(prov_tlv_writer_len(&w2), prov_tlv_writer_len(&w));
        assert_memory_equal(copy, buf, prov_tlv_writer_len(&w));
    }
}

static void test_code_names(void **state)
{
    (void)state;
    assert_string_equal(prov_error_code_name(PROV_CODE_ERR_CHUNK), "ERR_CHUNK");
    assert_string_equal(prov_error_code_name(PROV_CODE_ERR_BAD_BAUD), "ERR_BAD_BAUD");
    assert_string_equal(prov_error_code_name(PROV_CODE_ERR_INTERNAL), "ERR_INTERNAL");
    assert_string_equal(prov_error_code_name(200), "ERR_?");
    assert_string_equal(prov_state_name(PROV_STATE_PROVISIONED), "PROVISIONED");
    assert_string_equal(prov_state_name(9), "?");
    assert_string_equal(prov_strerror(PROV_ERR_BAD_CRC), "frame CRC mismatch");
    assert_string_equal(prov_strerror((prov_status_t)999), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_typed_fields),
        cmocka_unit_test(test_writer_overflow_is_sticky_and_atomic),
        cmocka_unit_test(test_writer_tag_order_and_params),
        cmocka_unit_test(test_reader_walks_fields),
        cmocka_unit_test(test_reader_rejects_overruns),
        cmocka_unit_test(test_find_typed),
        cmocka_unit_test(test_round_trip_through_writer),
        cmocka_unit_test(test_code_names),
    };
    return cmocka_run_group_tests_name("tlv", tests, NULL, NULL);
}
