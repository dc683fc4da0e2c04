/* CRC-32/ISO-HDLC against published check values (expected values from the
 * CRC catalogue and Python's zlib.crc32, not from this code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prov/crc32.h"

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(prov_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

static void test_empty_is_zero(void **state)
{
    (void)state;
    assert_int_equal(prov_crc32(NULL, 0), 0u);
    assert_int_equal(prov_crc32((const uint8_t *)"x", 0), 0u);
}

static void test_zlib_values(void **state)
{
    uint8_t all[256];
    uint8_t zeros[32];
    uint8_t ones[4];
    const char *p_fox = "The quick brown fox jumps over the lazy dog";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(all); i++) {
        all[i] = (uint8_t)i;
    }
    memset(zeros, 0, sizeof(zeros));
    memset(ones, 0xFF, sizeof(ones));
    assert_int_equal(prov_crc32(all, sizeof(all)), 0x29058C73u);
    assert_int_equal(prov_crc32((const uint8_t *)p_fox, strlen(p_fox)), 0x414FA339u);
    assert_int_equal(prov_crc32(zeros, sizeof(zeros)), 0x190A55ADu);
    assert_int_equal(prov_crc32(ones, sizeof(ones)), 0xFFFFFFFFu);
}

static void test_incremental_equals_one_shot(void **state)
{
    uint8_t all[256];
    size_t split;

    (void)state;
    for (split = 0; split < sizeof(all); split++) {
        all[split] = (uint8_t)(split * 7u + 3u);
    }
    for (split = 0; split <= sizeof(all); split++) {
        uint32_t crc = prov_crc32_update(PROV_CRC32_INIT, all, split);
        crc = prov_crc32_update(crc, &all[split], sizeof(all) - split);
        assert_int_equal(crc, prov_crc32(all, sizeof(all)));
    }
}

static void test_single_bit_flip_changes_crc(void **state)
{
    uint8_t data[16] = {0};
    uint32_t base = prov_crc32(data, sizeof(data));
    size_t bit;

    (void)state;
    for (bit = 0; bit < sizeof(data) * 8u; bit++) {
        data[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        assert_int_not_equal(prov_crc32(data, sizeof(data)), base);
        data[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_empty_is_zero),
        cmocka_unit_test(test_zlib_values),
        cmocka_unit_test(test_incremental_equals_one_shot),
        cmocka_unit_test(test_single_bit_flip_changes_crc),
    };
    return cmocka_run_group_tests_name("crc32", tests, NULL, NULL);
}
