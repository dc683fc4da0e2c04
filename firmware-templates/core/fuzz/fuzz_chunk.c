/*
 * libFuzzer target: the chunk reassembler (protocol.md section 4).
 *
 * The input is a run of records: type(1) length(2, BE) chunk payload. Each
 * is pushed into one reassembler whose buffer is heap-allocated at a size
 * taken from the input (so ASan sees any write past it). SHA-256 is replaced
 * by a CRC-based stand-in here: the fuzz build must not need mbedTLS, and a
 * digest the fuzzer can match lets it reach the completion path.
 */
#include <string.h>

#include "fuzz_common.h"
#include "prov/chunk.h"
#include "prov/crc32.h"

static int fake_digest(const uint8_t *p_data, size_t len, uint8_t p_digest[32])
{
    uint32_t crc = prov_crc32(p_data, len);
    size_t i;

    for (i = 0; i < 32u; i++) {
        p_digest[i] = (uint8_t)(crc >> ((i % 4u) * 8u));
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *p_data, size_t len)
{
    size_t cap;
    uint8_t *p_buf;
    prov_chunk_rx_t rx;
    size_t at = 2;

    if (len < 2u) {
        return 0;
    }
    cap = 1u + ((((size_t)p_data[0] << 8) | p_data[1]) % PROV_PAYLOAD_MAX);
    p_buf = malloc(cap);
    FUZZ_CHECK(p_buf != NULL);
    FUZZ_CHECK(prov_chunk_rx_init(&rx, p_buf, cap, fake_digest) == PROV_OK);
    while (at + 3u <= len) {
        uint8_t type = p_data[at];
        size_t n = ((size_t)p_data[at + 1u] << 8) | p_data[at + 2u];
        prov_chunk_progress_t pr;
        prov_status_t s;
        uint8_t *p_chunk;

        at += 3u;
        if (n > len - at) {
            n = len - at;
        }
        p_chunk = malloc(n + 1u); /* exact copy so over-reads are caught */
        FUZZ_CHECK(p_chunk != NULL);
        if (n > 0u) {
            memcpy(p_chunk, &p_data[at], n);
        }
        s = (type & 1u) ? prov_chunk_rx_push_type(&rx, type, p_chunk, n, &pr)
                        : prov_chunk_rx_push(&rx, p_chunk, n, &pr);
        FUZZ_CHECK(s == PROV_OK || s == PROV_ERR_CHUNK || s == PROV_ERR_DIGEST || s == PROV_ERR_TOO_LARGE ||
                   s == PROV_ERR_MALFORMED);
        FUZZ_CHECK(rx.received <= rx.total && rx.total <= cap);
        if (s == PROV_OK && pr.complete) {
            uint8_t d[32];
            FUZZ_CHECK(pr.p_payload == p_buf && pr.payload_len <= cap);
            FUZZ_CHECK(fake_digest(pr.p_payload, pr.payload_len, d) == 0 && memcmp(d, rx.digest, 32) == 0);
            FUZZ_CHECK(!rx.active);
        }
        if (s != PROV_OK) {
            FUZZ_CHECK(!rx.active);
        }
        free(p_chunk);
        at += n;
    }
    free(p_buf);
    return 0;
}
