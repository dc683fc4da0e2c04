/*
 * Chunked requests (protocol.md section 4). No mbedTLS include on purpose:
 * SHA-256 is the caller's function pointer (see chunk.h for why).
 */
#include "prov/chunk.h"

#include <string.h>

static uint32_t be32_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Compares all 32 bytes whatever the first difference: the digest is public
 * here, but a constant-time habit costs nothing. */
static bool digest_equal(const uint8_t *p_a, const uint8_t *p_b)
{
    uint8_t diff = 0;
    size_t i;

    for (i = 0; i < PROV_SHA256_BYTES; i++) {
        diff |= (uint8_t)(p_a[i] ^ p_b[i]);
    }
    return diff == 0u;
}

prov_status_t prov_chunk_parse(const uint8_t *p_payload, size_t len, prov_chunk_t *p_chunk)
{
    prov_status_t status = PROV_OK;

    if (((p_payload == NULL) && (len > 0u)) || (p_chunk == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else if (len < (PROV_CHUNK_HEADER_BYTES + 1u)) {
        status = PROV_ERR_MALFORMED;
    } else {
        size_t header = PROV_CHUNK_HEADER_BYTES;
        p_chunk->offset = be32_at(&p_payload[0]);
        p_chunk->total = be32_at(&p_payload[4]);
        p_chunk->p_digest = NULL;
        if (p_chunk->offset == 0u) {
            header = PROV_CHUNK_FIRST_HEADER_BYTES;
            p_chunk->p_digest = &p_payload[PROV_CHUNK_HEADER_BYTES];
        }
        if (len < (header + 1u)) {
            status = PROV_ERR_MALFORMED;
        } else {
            p_chunk->p_data = &p_payload[header];
            p_chunk->data_len = len - header;
        }
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* Reassembler                                                               */
/* ------------------------------------------------------------------------ */

prov_status_t prov_chunk_rx_init(prov_chunk_rx_t *p_rx, uint8_t *p_buf, size_t cap, prov_sha256_fn_t sha256)
{
    prov_status_t status = PROV_OK;

    if ((p_rx == NULL) || (p_buf == NULL) || (cap == 0u) || (sha256 == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        (void)memset(p_rx, 0, sizeof(*p_rx));
        p_rx->p_buf = p_buf;
        p_rx->cap = cap;
        p_rx->sha256 = sha256;
        p_rx->active = false;
        p_rx->type = -1;
    }
    return status;
}

void prov_chunk_rx_reset(prov_chunk_rx_t *p_rx)
{
    if (p_rx != NULL) {
        p_rx->active = false;
        p_rx->type = -1;
        p_rx->total = 0;
        p_rx->received = 0;
    }
}

/* type < 0: the caller does not check types (prov_chunk_rx_push). */
static prov_status_t chunk_rx_push(prov_chunk_rx_t *p_rx, int type, const uint8_t *p_payload, size_t len,
                                   prov_chunk_progress_t *p_progress)
{
    prov_status_t status = PROV_OK;
    prov_chunk_t chunk;
    size_t limit;

    if ((p_rx == NULL) || (p_rx->p_buf == NULL) || (p_rx->sha256 == NULL) || (p_progress == NULL) ||
        ((p_payload == NULL) && (len > 0u))) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        (void)memset(p_progress, 0, sizeof(*p_progress));
        limit = (p_rx->cap < PROV_PAYLOAD_MAX) ? p_rx->cap : PROV_PAYLOAD_MAX;
        status = prov_chunk_parse(p_payload, len, &chunk);
        if ((status == PROV_OK) && (chunk.offset == 0u)) {
            /* offset 0 always starts anew, dropping an unfinished reassembly */
            if (chunk.total > limit) {
                status = PROV_ERR_TOO_LARGE;
            } else {
                p_rx->active = true;
                p_rx->type = type;
                p_rx->total = chunk.total;
                p_rx->received = 0;
                (void)memcpy(p_rx->digest, chunk.p_digest, PROV_SHA256_BYTES);
            }
        } else if (status == PROV_OK) {
            if ((!p_rx->active) || (chunk.offset != p_rx->received) || (chunk.total != p_rx->total) ||
                ((type >= 0) && (p_rx->type >= 0) && (type != p_rx->type))) {
                status = PROV_ERR_CHUNK;
            }
        } else {
            /* parse error kept */
        }
        /* total <= limit here, so offset + data <= total also bounds the copy. */
        if ((status == PROV_OK) && (chunk.data_len > ((size_t)p_rx->total - (size_t)p_rx->received))) {
            status = PROV_ERR_CHUNK;
        }
        if (status == PROV_OK) {
            (void)memcpy(&p_rx->p_buf[p_rx->received], chunk.p_data, chunk.data_len);
            p_rx->received += (uint32_t)chunk.data_len;
            p_progress->received = p_rx->received;
            if (p_rx->received == p_rx->total) {
                uint8_t digest[PROV_SHA256_BYTES];
                p_rx->active = false;
                if (p_rx->sha256(p_rx->p_buf, p_rx->total, digest) != 0) {
                    status = PROV_ERR_CRYPTO;
                } else if (!digest_equal(digest, p_rx->digest)) {
                    status = PROV_ERR_DIGEST;
                } else {
                    p_progress->complete = true;
                    p_progress->p_payload = p_rx->p_buf;
                    p_progress->payload_len = p_rx->total;
                }
            }
        }
        if (status != PROV_OK) {
            prov_chunk_rx_reset(p_rx);
            p_progress->received = 0;
        }
    }
    return status;
}

prov_status_t prov_chunk_rx_push(prov_chunk_rx_t *p_rx, const uint8_t *p_payload, size_t len,
                                 prov_chunk_progress_t *p_progress)
{
    return chunk_rx_push(p_rx, -1, p_payload, len, p_progress);
}

prov_status_t prov_chunk_rx_push_type(prov_chunk_rx_t *p_rx, uint8_t type, const uint8_t *p_payload, size_t len,
                                      prov_chunk_progress_t *p_progress)
{
    return chunk_rx_push(p_rx, (int)type, p_payload, len, p_progress);
}

/* ------------------------------------------------------------------------ */
/* Splitter                                                                  */
/* ------------------------------------------------------------------------ */

prov_status_t prov_chunk_tx_init(prov_chunk_tx_t *p_tx, const uint8_t *p_payload, size_t len, size_t max_frame_body,
                                 prov_sha256_fn_t sha256)
{
    prov_status_t status = PROV_OK;

    if ((p_tx == NULL) || (p_payload == NULL) || (len == 0u) || (sha256 == NULL) ||
        (max_frame_body < (PROV_FRAME_OVERHEAD_BYTES + PROV_CHUNK_FIRST_HEADER_BYTES + 1u)) ||
        (max_frame_body > PROV_FRAME_BODY_MAX)) {
        status = PROV_ERR_BAD_PARAM;
    } else if (len > PROV_PAYLOAD_MAX) {
        status = PROV_ERR_TOO_LARGE;
    } else {
        (void)memset(p_tx, 0, sizeof(*p_tx));
        p_tx->p_payload = p_payload;
        p_tx->total = len;
        p_tx->offset = 0;
        p_tx->chunk_payload_max = max_frame_body - PROV_FRAME_OVERHEAD_BYTES;
        if (sha256(p_payload, len, p_tx->digest) != 0) {
            status = PROV_ERR_CRYPTO;
        }
    }
    return status;
}

prov_status_t prov_chunk_tx_next(prov_chunk_tx_t *p_tx, uint8_t *p_out, size_t out_cap, size_t *p_out_len)
{
    prov_status_t status = PROV_OK;

    if ((p_tx == NULL) || (p_tx->p_payload == NULL) || (p_out == NULL) || (p_out_len == NULL) ||
        (p_tx->chunk_payload_max <= PROV_CHUNK_FIRST_HEADER_BYTES)) {
        status = PROV_ERR_BAD_PARAM;
    } else if (p_tx->offset >= p_tx->total) {
        status = PROV_END;
    } else {
        size_t header = (p_tx->offset == 0u) ? PROV_CHUNK_FIRST_HEADER_BYTES : PROV_CHUNK_HEADER_BYTES;
        size_t data_len = p_tx->chunk_payload_max - header;
        if (data_len > (p_tx->total - p_tx->offset)) {
            data_len = p_tx->total - p_tx->offset;
        }
        if (out_cap < (header + data_len)) {
            status = PROV_ERR_NO_SPACE;
        } else {
            be32_put(&p_out[0], (uint32_t)p_tx->offset);
            be32_put(&p_out[4], (uint32_t)p_tx->total);
            if (p_tx->offset == 0u) {
                (void)memcpy(&p_out[PROV_CHUNK_HEADER_BYTES], p_tx->digest, PROV_SHA256_BYTES);
            }
            (void)memcpy(&p_out[header], &p_tx->p_payload[p_tx->offset], data_len);
            p_tx->offset += data_len;
            *p_out_len = header + data_len;
        }
    }
    return status;
}
