/*
 * chunk.h - chunked requests (protocol.md section 4).
 *
 *   chunk payload = offset(4, BE) total(4, BE) [digest(32) if offset == 0] data(>= 1)
 *
 * Reassembler (device side): one per link, into a caller buffer of up to
 * PROV_PAYLOAD_MAX bytes. Splitter (host side; the device never sends chunks
 * in v1, it exists so the C tests can check chunks.json byte for byte).
 *
 * SHA-256 comes from the caller as a function pointer instead of an
 * #include of mbedtls/sha256.h: the codec (frame, tlv, chunk) then builds and
 * fuzzes without mbedTLS, and the same object works with mbedTLS 2.28
 * (mbedtls_sha256_ret) and 3.x (mbedtls_sha256, the 2.x name was removed)
 * without version guards here. The core supplies the mbedTLS adapter, e.g.:
 *
 *   static int sha256_mbedtls(const uint8_t *p, size_t n, uint8_t out[32]) {
 *   #if MBEDTLS_VERSION_NUMBER >= 0x03000000
 *       return mbedtls_sha256(p, n, out, 0);
 *   #else
 *       return mbedtls_sha256_ret(p, n, out, 0);
 *   #endif
 *   }
 */
#ifndef PROV_CHUNK_H
#define PROV_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov/codes.h"
#include "prov/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest reassembled payload (protocol ceiling 8192). */
#ifndef PROV_PAYLOAD_MAX
#define PROV_PAYLOAD_MAX 8192u
#endif

#define PROV_CHUNK_HEADER_BYTES 8u  /**< offset + total */
#define PROV_SHA256_BYTES 32u       /**< digest in the first chunk */
#define PROV_CHUNK_FIRST_HEADER_BYTES (PROV_CHUNK_HEADER_BYTES + PROV_SHA256_BYTES)

/**
 * One-shot SHA-256 of p_data[0..len) into p_digest (32 bytes).
 * Returns 0 on success, non-zero on failure (reported as PROV_ERR_CRYPTO).
 */
typedef int (*prov_sha256_fn_t)(const uint8_t *p_data, size_t len, uint8_t p_digest[32]);

/** A parsed chunk payload; pointers point into the parsed buffer. */
typedef struct prov_chunk {
    uint32_t offset;
    uint32_t total;
    const uint8_t *p_digest; /**< 32 bytes when offset == 0, else NULL */
    const uint8_t *p_data;
    size_t data_len;         /**< >= 1 */
} prov_chunk_t;

/**
 * Parse a chunk payload (structure only, no ordering checks).
 * @return PROV_OK; PROV_ERR_MALFORMED (shorter than header [+ digest] + 1 data
 *         byte); PROV_ERR_BAD_PARAM.
 */
prov_status_t prov_chunk_parse(const uint8_t *p_payload, size_t len, prov_chunk_t *p_chunk);

/* ------------------------------------------------------------------------ */
/* Reassembler                                                               */
/* ------------------------------------------------------------------------ */

/** Reassembly state (one per link). */
typedef struct prov_chunk_rx {
    uint8_t *p_buf;            /**< caller buffer for the whole payload */
    size_t cap;                /**< its size; totals above min(cap, PROV_PAYLOAD_MAX) are refused */
    prov_sha256_fn_t sha256;   /**< digest function */
    bool active;               /**< a reassembly is in progress */
    uint32_t total;            /**< total of the reassembly in progress */
    uint32_t received;         /**< bytes received so far */
    uint8_t digest[32];        /**< expected SHA-256, from the offset-0 chunk */
    int type;                  /**< message type of the reassembly (prov_chunk_rx_push_type), -1 if unchecked */
} prov_chunk_rx_t;

/** Outcome of an accepted chunk. */
typedef struct prov_chunk_progress {
    bool complete;              /**< true: payload complete and digest verified */
    uint32_t received;          /**< bytes received so far (answer TLV 0x01 of a non-final chunk) */
    const uint8_t *p_payload;   /**< complete: the payload (in the caller buffer, valid until the next push) */
    size_t payload_len;         /**< complete: its length (== total) */
} prov_chunk_progress_t;

/**
 * Initialise with a caller buffer (PROV_PAYLOAD_MAX bytes for the full
 * protocol range) and a SHA-256 function.
 * @return PROV_OK; PROV_ERR_BAD_PARAM (NULL argument or cap 0).
 */
prov_status_t prov_chunk_rx_init(prov_chunk_rx_t *p_rx, uint8_t *p_buf, size_t cap, prov_sha256_fn_t sha256);

/** Drop any unfinished reassembly. */
void prov_chunk_rx_reset(prov_chunk_rx_t *p_rx);

/**
 * Feed the payload of one CHUNK request frame. offset 0 starts a new
 * reassembly (dropping an unfinished one). On completion the digest is
 * checked and the reassembly ends (the next chunk must have offset 0).
 * On any error the reassembly is dropped, as the spec asks.
 * @return PROV_OK (see *p_progress: complete or not);
 *         PROV_ERR_CHUNK (offset != bytes received, total differs, no
 *           reassembly in progress, or offset + data > total);
 *         PROV_ERR_DIGEST (complete but SHA-256 differs);
 *         PROV_ERR_TOO_LARGE (total > cap or > PROV_PAYLOAD_MAX);
 *         PROV_ERR_MALFORMED (chunk payload too short);
 *         PROV_ERR_CRYPTO (sha256 function failed); PROV_ERR_BAD_PARAM.
 * Map errors to the response code with prov_status_to_error_code().
 */
prov_status_t prov_chunk_rx_push(prov_chunk_rx_t *p_rx, const uint8_t *p_payload, size_t len,
                                 prov_chunk_progress_t *p_progress);

/**
 * Same as prov_chunk_rx_push(), and also refuses (PROV_ERR_CHUNK, reassembly
 * dropped) a continuation chunk whose frame type differs from the type of
 * the offset-0 chunk, as the TypeScript reassembler does: a reassembled
 * payload is then always handled as the type it was started for.
 */
prov_status_t prov_chunk_rx_push_type(prov_chunk_rx_t *p_rx, uint8_t type, const uint8_t *p_payload, size_t len,
                                      prov_chunk_progress_t *p_progress);

/* ------------------------------------------------------------------------ */
/* Splitter                                                                  */
/* ------------------------------------------------------------------------ */

/** Splitter state. */
typedef struct prov_chunk_tx {
    const uint8_t *p_payload;
    size_t total;
    size_t offset;             /**< next offset to send */
    size_t chunk_payload_max;  /**< max_frame_body - frame overhead */
    uint8_t digest[32];
} prov_chunk_tx_t;

/**
 * Prepare to split p_payload[0..len) into chunk payloads for frames whose
 * body is at most max_frame_body bytes: each chunk carries as much data as
 * fits (max_frame_body - 9 - 8, minus 32 more in the first).
 * @return PROV_OK; PROV_ERR_TOO_LARGE (len > PROV_PAYLOAD_MAX);
 *         PROV_ERR_BAD_PARAM (NULL, len 0, or max_frame_body below 9 + 40 + 1
 *         or above PROV_FRAME_BODY_MAX); PROV_ERR_CRYPTO.
 */
prov_status_t prov_chunk_tx_init(prov_chunk_tx_t *p_tx, const uint8_t *p_payload, size_t len, size_t max_frame_body,
                                 prov_sha256_fn_t sha256);

/**
 * Write the next chunk payload into p_out.
 * @return PROV_OK (*p_out_len set); PROV_END (all chunks written);
 *         PROV_ERR_NO_SPACE (out_cap too small, state unchanged); PROV_ERR_BAD_PARAM.
 */
prov_status_t prov_chunk_tx_next(prov_chunk_tx_t *p_tx, uint8_t *p_out, size_t out_cap, size_t *p_out_len);

#ifdef __cplusplus
}
#endif

#endif /* PROV_CHUNK_H */
