/* Chunk reassembler and splitter (protocol.md section 4), with SHA-256 from
 * the real mbedTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prov/chunk.h"
#include "vectors.h"

static uint8_t g_payload[PROV_PAYLOAD_MAX];
static uint8_t g_buf[PROV_PAYLOAD_MAX];
static prov_chunk_rx_t g_rx;

static int setup(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(g_payload); i++) {
        g_payload[i] = (uint8_t)((i * 2654435761u) >> 24);
    }
    memset(g_buf, 0, sizeof(g_buf));
    return (prov_chunk_rx_init(&g_rx, g_buf, sizeof(g_buf), prov_test_sha256) == PROV_OK) ? 0 : -1;
}

/* Builds a chunk payload by hand from the spec layout (not with the splitter). */
static size_t make_chunk(uint8_t *p_out, uint32_t offset, uint32_t total, const uint8_t *p_data, size_t len,
                         const uint8_t *p_whole)
{
    size_t n = 0;

    p_out[n++] = (uint8_t)(offset >> 24);
    p_out[n++] = (uint8_t)(offset >> 16);
    p_out[n++] = (uint8_t)(offset >> 8);
    p_out[n++] = (uint8_t)offset;
    p_out[n++] = (uint8_t)(total >> 24);
    p_out[n++] = (uint8_t)(total >> 16);
    p_out[n++] = (uint8_t)(total >> 8);
    p_out[n++] = (uint8_t)total;
    if (offset == 0u) {
        assert_int_equal(prov_test_sha256(p_whole, total, &p_out[n]), 0);
        n += 32u;
    }
    memcpy(&p_out[n], p_data, len);
    return n + len;
}

static void test_reassemble_in_order(void **state)
{
    uint8_t chunk[PROV_FRAME_PAYLOAD_MAX];
    prov_chunk_progress_t pr;
    const uint32_t total = 3319;
    uint32_t off = 0;
    size_t n;

    (void)state;
    while (off < total) {
        size_t len = ((total - off) < 1000u) ? (total - off) : 1000u;
        n = make_chunk(chunk, off, total, &g_payload[off], len, g_payload);
        assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
        off += (uint32_t)len;
        assert_int_equal(pr.received, off);
        assert_int_equal(pr.complete, off == total);
    }
    assert_ptr_equal(pr.p_payload, g_buf);
    assert_int_equal(pr.payload_len, total);
    assert_memory_equal(g_buf, g_payload, total);
    /* the reassembly ended: a continuation is out of order */
    n = make_chunk(chunk, total, total, g_payload, 1, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);
}

static void test_single_chunk_and_payload_max(void **state)
{
    static uint8_t chunk[PROV_CHUNK_FIRST_HEADER_BYTES + PROV_PAYLOAD_MAX + 1u];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    n = make_chunk(chunk, 0, 1, g_payload, 1, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_true(pr.complete);
    assert_int_equal(pr.payload_len, 1u);
    /* PAYLOAD_MAX is accepted, one more is too large */
    n = make_chunk(chunk, 0, PROV_PAYLOAD_MAX, g_payload, PROV_PAYLOAD_MAX, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_true(pr.complete);
    n = make_chunk(chunk, 0, PROV_PAYLOAD_MAX, g_payload, 10, g_payload);
    chunk[4] = 0; chunk[5] = 0; chunk[6] = 0x20; chunk[7] = 0x01; /* total 8193 */
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_TOO_LARGE);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_TOO_LARGE), PROV_CODE_ERR_TOO_LARGE);
}

static void test_out_of_order_and_inconsistent(void **state)
{
    uint8_t chunk[256];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    /* no reassembly yet: offset 100 is out of order */
    n = make_chunk(chunk, 100, 300, &g_payload[100], 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_CHUNK), PROV_CODE_ERR_CHUNK);

    /* gap */
    n = make_chunk(chunk, 0, 300, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_false(pr.complete);
    assert_int_equal(pr.received, 100u);
    n = make_chunk(chunk, 150, 300, &g_payload[150], 50, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);
    /* dropped: even the right offset is now refused */
    n = make_chunk(chunk, 100, 300, &g_payload[100], 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);

    /* total differs */
    n = make_chunk(chunk, 0, 300, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 301, &g_payload[100], 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);

    /* data past total */
    n = make_chunk(chunk, 0, 300, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 300, &g_payload[100], 201, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_CHUNK);

    /* offset 0 restarts an unfinished reassembly */
    n = make_chunk(chunk, 0, 300, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_int_equal(pr.received, 100u);
    n = make_chunk(chunk, 100, 300, &g_payload[100], 200, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    assert_true(pr.complete);
    assert_memory_equal(pr.p_payload, g_payload, 300);
}

static void test_type_must_match(void **state)
{
    uint8_t chunk[256];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    n = make_chunk(chunk, 0, 150, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push_type(&g_rx, 0x20, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 150, &g_payload[100], 50, g_payload);
    assert_int_equal(prov_chunk_rx_push_type(&g_rx, 0x11, chunk, n, &pr), PROV_ERR_CHUNK);
    n = make_chunk(chunk, 0, 150, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push_type(&g_rx, 0x20, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 150, &g_payload[100], 50, g_payload);
    assert_int_equal(prov_chunk_rx_push_type(&g_rx, 0x20, chunk, n, &pr), PROV_OK);
    assert_true(pr.complete);
}

static void test_digest_mismatch(void **state)
{
    uint8_t chunk[256];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    n = make_chunk(chunk, 0, 150, g_payload, 100, g_payload);
    chunk[8 + 5] ^= 0x01; /* one digest bit */
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 150, &g_payload[100], 50, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_DIGEST);
    assert_false(pr.complete);
    assert_int_equal(prov_status_to_error_code(PROV_ERR_DIGEST), PROV_CODE_ERR_DIGEST);
    /* data corrupted instead of digest */
    n = make_chunk(chunk, 0, 150, g_payload, 100, g_payload);
    chunk[40] ^= 0x80;
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_OK);
    n = make_chunk(chunk, 100, 150, &g_payload[100], 50, g_payload);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, n, &pr), PROV_ERR_DIGEST);
}

static void test_malformed_chunks(void **state)
{
    uint8_t chunk[64];
    prov_chunk_progress_t pr;
    prov_chunk_t parsed;

    (void)state;
    memset(chunk, 0, sizeof(chunk));
    chunk[7] = 10; /* offset 0, total 10 */
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, 40, &pr), PROV_ERR_MALFORMED); /* no data after digest */
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, 7, &pr), PROV_ERR_MALFORMED);
    assert_int_equal(prov_chunk_parse(chunk, 41, &parsed), PROV_OK);
    assert_int_equal(parsed.data_len, 1u);
    assert_non_null(parsed.p_digest);
    chunk[3] = 5; /* offset 5: no digest, 1 data byte at 8 */
    assert_int_equal(prov_chunk_parse(chunk, 9, &parsed), PROV_OK);
    assert_null(parsed.p_digest);
    assert_int_equal(parsed.offset, 5u);
    assert_int_equal(parsed.total, 10u);
    assert_int_equal(prov_chunk_parse(chunk, 8, &parsed), PROV_ERR_MALFORMED);
    assert_int_equal(prov_chunk_rx_push(NULL, chunk, 9, &pr), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_rx_push(&g_rx, NULL, 9, &pr), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, 9, NULL), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_rx_init(&g_rx, NULL, 10, prov_test_sha256), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_rx_init(&g_rx, g_buf, 10, NULL), PROV_ERR_BAD_PARAM);
}

static void test_small_buffer_limits_total(void **state)
{
    static uint8_t small[100];
    prov_chunk_rx_t rx;
    uint8_t chunk[256];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    assert_int_equal(prov_chunk_rx_init(&rx, small, sizeof(small), prov_test_sha256), PROV_OK);
    n = make_chunk(chunk, 0, 101, g_payload, 50, g_payload);
    assert_int_equal(prov_chunk_rx_push(&rx, chunk, n, &pr), PROV_ERR_TOO_LARGE);
    n = make_chunk(chunk, 0, 100, g_payload, 100, g_payload);
    assert_int_equal(prov_chunk_rx_push(&rx, chunk, n, &pr), PROV_OK);
    assert_true(pr.complete);
}

static int failing_sha256(const uint8_t *p_data, size_t len, uint8_t p_digest[32])
{
    (void)p_data;
    (void)len;
    (void)p_digest;
    return -1;
}

static void test_crypto_failure(void **state)
{
    prov_chunk_rx_t rx;
    prov_chunk_tx_t tx;
    uint8_t chunk[64];
    prov_chunk_progress_t pr;
    size_t n;

    (void)state;
    assert_int_equal(prov_chunk_rx_init(&rx, g_buf, sizeof(g_buf), failing_sha256), PROV_OK);
    n = make_chunk(chunk, 0, 4, g_payload, 4, g_payload);
    assert_int_equal(prov_chunk_rx_push(&rx, chunk, n, &pr), PROV_ERR_CRYPTO);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 10, 256, failing_sha256), PROV_ERR_CRYPTO);
}

static void test_split_then_reassemble(void **state)
{
    static const size_t sizes[] = {1, 207, 208, 3319, PROV_PAYLOAD_MAX};
    static const size_t max_frames[] = {58, 256, 1000, 2048};
    uint8_t chunk[PROV_FRAME_PAYLOAD_MAX];
    prov_chunk_tx_t tx;
    prov_chunk_progress_t pr;
    size_t out_len;
    size_t si;
    size_t fi;

    (void)state;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (fi = 0; fi < sizeof(max_frames) / sizeof(max_frames[0]); fi++) {
            size_t chunks = 0;
            size_t expect_chunks;
            size_t first_room = max_frames[fi] - 9u - 40u;
            size_t room = max_frames[fi] - 9u - 8u;
            prov_status_t s;

            expect_chunks = (sizes[si] <= first_room) ? 1u : 1u + ((sizes[si] - first_room + room - 1u) / room);
            assert_int_equal(prov_chunk_tx_init(&tx, g_payload, sizes[si], max_frames[fi], prov_test_sha256), PROV_OK);
            memset(&pr, 0, sizeof(pr));
            while ((s = prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &out_len)) == PROV_OK) {
                assert_true(out_len + 9u <= max_frames[fi]);
                chunks++;
                assert_int_equal(prov_chunk_rx_push(&g_rx, chunk, out_len, &pr), PROV_OK);
            }
            assert_int_equal(s, PROV_END);
            assert_int_equal(chunks, expect_chunks);
            assert_true(pr.complete);
            assert_int_equal(pr.payload_len, sizes[si]);
            assert_memory_equal(pr.p_payload, g_payload, sizes[si]);
        }
    }
}

static void test_split_params(void **state)
{
    prov_chunk_tx_t tx;
    uint8_t out[80];
    size_t out_len = 0;

    (void)state;
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 0, 256, prov_test_sha256), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 10, 49, prov_test_sha256), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 10, 50, prov_test_sha256), PROV_OK);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 10, PROV_FRAME_BODY_MAX + 1u, prov_test_sha256), PROV_ERR_BAD_PARAM);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, PROV_PAYLOAD_MAX + 1u, 256, prov_test_sha256), PROV_ERR_TOO_LARGE);
    assert_int_equal(prov_chunk_tx_init(&tx, g_payload, 30, 256, prov_test_sha256), PROV_OK);
    assert_int_equal(prov_chunk_tx_next(&tx, out, 69, &out_len), PROV_ERR_NO_SPACE);
    assert_int_equal(prov_chunk_tx_next(&tx, out, 70, &out_len), PROV_OK);
    assert_int_equal(out_len, 70u);
    assert_int_equal(out[7], 30);
    assert_memory_equal(&out[40], g_payload, 30);
    assert_int_equal(prov_chunk_tx_next(&tx, out, sizeof(out), &out_len), PROV_END);
    assert_int_equal(prov_chunk_tx_next(NULL, out, sizeof(out), &out_len), PROV_ERR_BAD_PARAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reassemble_in_order, setup),
        cmocka_unit_test_setup(test_single_chunk_and_payload_max, setup),
        cmocka_unit_test_setup(test_out_of_order_and_inconsistent, setup),
        cmocka_unit_test_setup(test_type_must_match, setup),
        cmocka_unit_test_setup(test_digest_mismatch, setup),
        cmocka_unit_test_setup(test_malformed_chunks, setup),
        cmocka_unit_test_setup(test_small_buffer_limits_total, setup),
        cmocka_unit_test_setup(test_crypto_failure, setup),
        cmocka_unit_test_setup(test_split_then_reassemble, setup),
        cmocka_unit_test_setup(test_split_params, setup),
    };
    return cmocka_run_group_tests_name("chunk", tests, NULL, NULL);
}
