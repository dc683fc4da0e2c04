/* base64 against RFC 4648 section 10 vectors and the strictness rules of
 * protocol.md section 3 step 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prov/base64.h"

static const struct {
    const char *p_plain;
    const char *p_encoded;
} rfc4648[] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_encode_rfc4648(void **state)
{
    char out[16];
    size_t out_len = 99;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].p_plain);
        assert_int_equal(prov_base64_encode((const uint8_t *)rfc4648[i].p_plain, n, out, sizeof(out), &out_len), PROV_OK);
        assert_int_equal(out_len, strlen(rfc4648[i].p_encoded));
        assert_int_equal(out_len, PROV_BASE64_ENCODED_LEN(n));
        assert_memory_equal(out, rfc4648[i].p_encoded, out_len);
    }
}

static void test_decode_rfc4648(void **state)
{
    uint8_t out[16];
    size_t out_len = 99;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *p_enc = rfc4648[i].p_encoded;
        assert_int_equal(prov_base64_decode(p_enc, strlen(p_enc), out, sizeof(out), &out_len), PROV_OK);
        assert_int_equal(out_len, strlen(rfc4648[i].p_plain));
        assert_memory_equal(out, rfc4648[i].p_plain, out_len);
    }
}

static void test_all_alphabet_bytes_round_trip(void **state)
{
    uint8_t in[256];
    char enc[PROV_BASE64_ENCODED_LEN(256)];
    uint8_t dec[256];
    size_t enc_len = 0;
    size_t dec_len = 0;
    size_t n;

    (void)state;
    for (n = 0; n < sizeof(in); n++) {
        in[n] = (uint8_t)(255u - n);
    }
    for (n = 0; n <= sizeof(in); n++) {
        assert_int_equal(prov_base64_encode(in, n, enc, sizeof(enc), &enc_len), PROV_OK);
        assert_int_equal(prov_base64_decode(enc, enc_len, dec, sizeof(dec), &dec_len), PROV_OK);
        assert_int_equal(dec_len, n);
        assert_memory_equal(dec, in, n);
    }
    /* '+' and '/' both appear: 0xFB 0xEF 0xBE -> "++++", 0xFF 0xFF 0xFF -> "////" */
    assert_int_equal(prov_base64_encode((const uint8_t *)"\xFB\xEF\xBE\xFF\xFF\xFF", 6, enc, sizeof(enc), &enc_len), PROV_OK);
    assert_memory_equal(enc, "++++////", 8);
}

static void test_decode_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "A", "AB", "ABC", "ABCDE",   /* length not a multiple of 4 */
        "A===", "====", "AAAA====",  /* more than two padding characters */
        "AB=C", "A=BC", "AA==AAAA",  /* padding not at the end */
        "AA==AA==",                  /* padding inside */
        "AB C", "AB-_", "AB\nC", "\x80\x80\x80\x80", "AAA\0",
    };
    uint8_t out[16];
    size_t out_len = 77;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = (i == (sizeof(bad) / sizeof(bad[0])) - 1u) ? 4u : strlen(bad[i]);
        assert_int_equal(prov_base64_decode(bad[i], n, out, sizeof(out), &out_len), PROV_ERR_BAD_BASE64);
        assert_int_equal(out_len, 77u);
    }
}

static void test_decode_ignores_unused_bits(void **state)
{
    uint8_t out[4];
    size_t out_len = 0;

    (void)state;
    /* "QR==" has non-zero unused bits; Node's Buffer and mbedTLS give "A". */
    assert_int_equal(prov_base64_decode("QR==", 4, out, sizeof(out), &out_len), PROV_OK);
    assert_int_equal(out_len, 1u);
    assert_int_equal(out[0], 'A');
}

static void test_in_place_decode(void **state)
{
    char buf[32];
    size_t out_len = 0;

    (void)state;
    memcpy(buf, "Zm9vYmFyYmF6cXV4", 16); /* "foobarbazqux" */
    assert_int_equal(prov_base64_decode(buf, 16, (uint8_t *)buf, sizeof(buf), &out_len), PROV_OK);
    assert_int_equal(out_len, 12u);
    assert_memory_equal(buf, "foobarbazqux", 12);
}

static void test_buffer_limits_and_params(void **state)
{
    char enc[8];
    uint8_t dec[2];
    size_t len = 55;

    (void)state;
    assert_int_equal(prov_base64_encode((const uint8_t *)"abcd", 4, enc, 7, &len), PROV_ERR_NO_SPACE);
    assert_int_equal(len, 55u);
    assert_int_equal(prov_base64_encode((const uint8_t *)"abcd", 4, enc, 8, &len), PROV_OK);
    assert_int_equal(len, 8u);
    assert_int_equal(prov_base64_decode("Zm9v", 4, dec, sizeof(dec), &len), PROV_ERR_NO_SPACE);
    assert_int_equal(prov_base64_decode("Zm8=", 4, dec, sizeof(dec), &len), PROV_OK);
    assert_int_equal(len, 2u);
    assert_int_equal(prov_base64_encode(NULL, 1, enc, sizeof(enc), &len), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_base64_encode((const uint8_t *)"a", 1, NULL, sizeof(enc), &len), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_base64_encode((const uint8_t *)"a", 1, enc, sizeof(enc), NULL), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_base64_decode(NULL, 4, dec, sizeof(dec), &len), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_base64_decode("Zm8=", 4, dec, sizeof(dec), NULL), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_base64_decode("", 0, NULL, 0, &len), PROV_OK);
    assert_int_equal(len, 0u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648),
        cmocka_unit_test(test_decode_rfc4648),
        cmocka_unit_test(test_all_alphabet_bytes_round_trip),
        cmocka_unit_test(test_decode_rejects_malformed),
        cmocka_unit_test(test_decode_ignores_unused_bits),
        cmocka_unit_test(test_in_place_decode),
        cmocka_unit_test(test_buffer_limits_and_params),
    };
    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
