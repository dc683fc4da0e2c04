/*
 * libFuzzer target: the TLV reader and writer (protocol.md section 5.1).
 *
 * The input is a payload. Checked besides memory safety: the iterator and
 * prov_tlv_validate() agree; every field lies inside the payload; typed
 * getters accept exactly the right lengths; find() returns the first field
 * of a tag; a payload in ascending tag order is reproduced byte for byte by
 * the writer, and a writer into a too-small buffer fails without writing
 * past it. Buffers are heap-allocated at their exact size for ASan.
 */
#include <string.h>

#include "fuzz_common.h"
#include "prov/tlv.h"

static void check_field(const uint8_t *p_buf, size_t len, const prov_tlv_field_t *p_f, int valid)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    size_t count = 0;
    prov_tlv_field_t first;
    const char *p_str = NULL;
    size_t str_len = 0;

    FUZZ_CHECK(p_f->p_value >= p_buf && p_f->p_value + p_f->len <= p_buf + len);
    FUZZ_CHECK((prov_tlv_field_u8(p_f, &u8) == PROV_OK) == (p_f->len == 1u));
    FUZZ_CHECK((prov_tlv_field_u16(p_f, &u16) == PROV_OK) == (p_f->len == 2u));
    FUZZ_CHECK((prov_tlv_field_u32(p_f, &u32) == PROV_OK) == (p_f->len == 4u));
    if (prov_tlv_field_u32list_count(p_f, &count) == PROV_OK) {
        FUZZ_CHECK(count * 4u == p_f->len);
        if (count > 0u) {
            (void)prov_tlv_field_u32list_at(p_f, count - 1u);
        }
    }
    (void)prov_tlv_field_u32list_at(p_f, count + 1u);
    /* find() checks the whole payload, so it only succeeds on a valid one */
    if (valid) {
        FUZZ_CHECK(prov_tlv_find(p_buf, len, p_f->tag, &first) == PROV_OK);
        FUZZ_CHECK(first.tag == p_f->tag && first.p_value <= p_f->p_value);
    } else {
        FUZZ_CHECK(prov_tlv_find(p_buf, len, p_f->tag, &first) == PROV_ERR_MALFORMED);
    }
    if (prov_tlv_find_str(p_buf, len, p_f->tag, &p_str, &str_len) == PROV_OK) {
        char *p_c = malloc(str_len + 1u);
        FUZZ_CHECK(p_c != NULL);
        FUZZ_CHECK(prov_tlv_find_cstr(p_buf, len, p_f->tag, p_c, str_len + 1u) == PROV_OK);
        FUZZ_CHECK(strlen(p_c) == str_len);
        FUZZ_CHECK(prov_tlv_find_cstr(p_buf, len, p_f->tag, p_c, str_len) == PROV_ERR_TOO_LARGE);
        free(p_c);
    }
}

/* Writes the fields of a valid ascending payload into a buffer of cap bytes:
 * cap == len must reproduce the payload, a smaller cap must fail cleanly. */
static void reencode(const uint8_t *p_buf, size_t len, size_t cap, size_t fields)
{
    uint8_t *p_out = malloc(cap + 1u);
    prov_tlv_writer_t w;
    prov_tlv_reader_t r;
    prov_tlv_field_t f;

    FUZZ_CHECK(p_out != NULL);
    FUZZ_CHECK(prov_tlv_writer_init(&w, p_out, cap) == PROV_OK);
    FUZZ_CHECK(prov_tlv_reader_init(&r, p_buf, len) == PROV_OK);
    while (prov_tlv_next(&r, &f) == PROV_OK) {
        (void)prov_tlv_put(&w, f.tag, f.p_value, f.len);
    }
    FUZZ_CHECK(prov_tlv_writer_len(&w) <= cap);
    if (cap == len) {
        FUZZ_CHECK(prov_tlv_writer_status(&w) == PROV_OK);
        FUZZ_CHECK(prov_tlv_writer_len(&w) == len);
        FUZZ_CHECK(len == 0u || memcmp(p_out, p_buf, len) == 0);
    } else {
        FUZZ_CHECK(fields == 0u || prov_tlv_writer_status(&w) == PROV_ERR_NO_SPACE);
    }
    free(p_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *p_data, size_t len)
{
    uint8_t *p_buf = malloc(len + 1u); /* own copy: the reader never looks past len */
    prov_tlv_reader_t r;
    prov_tlv_field_t f;
    prov_status_t s;
    size_t fields = 0;
    size_t bytes = 0;
    int last_tag = -1;
    int ascending = 1;
    int valid;
    uint8_t u8;

    FUZZ_CHECK(p_buf != NULL);
    if (len > 0u) {
        memcpy(p_buf, p_data, len);
    }
    valid = (prov_tlv_validate(p_buf, len) == PROV_OK);
    FUZZ_CHECK(prov_tlv_reader_init(&r, p_buf, len) == PROV_OK);
    while ((s = prov_tlv_next(&r, &f)) == PROV_OK) {
        /* the find() checks walk the whole payload: keep them to the first
         * fields so an 8 KB run of empty fields does not cost O(n^2) */
        if (fields < 32u) {
            check_field(p_buf, len, &f, valid);
        }
        FUZZ_CHECK(f.p_value >= p_buf && f.p_value + f.len <= p_buf + len);
        fields++;
        bytes += PROV_TLV_HEADER_BYTES + f.len;
        ascending = ascending && ((int)f.tag > last_tag);
        last_tag = f.tag;
    }
    FUZZ_CHECK(s == PROV_END || s == PROV_ERR_MALFORMED);
    FUZZ_CHECK(valid == (s == PROV_END));
    FUZZ_CHECK(s != PROV_END || bytes == len);
    /* a tag that may or may not be there */
    s = prov_tlv_find_u8(p_buf, len, (len > 0u) ? p_buf[len - 1u] : 0u, &u8);
    FUZZ_CHECK(s == PROV_OK || s == PROV_ERR_NOT_FOUND || s == PROV_ERR_MALFORMED || s == PROV_ERR_BAD_LENGTH);

    if (valid && ascending) {
        reencode(p_buf, len, len, fields);
        if (len > 0u) {
            reencode(p_buf, len, len - 1u, fields);
        }
    }
    free(p_buf);
    return 0;
}
