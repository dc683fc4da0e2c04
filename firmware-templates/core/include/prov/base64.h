/*
 * base64.h - standard base64 (RFC 4648 alphabet A-Z a-z 0-9 + /) with '='
 * padding, the frame line body encoding (protocol.md section 2). Output is
 * byte-identical to mbedtls_base64_encode() and Node's Buffer. Implemented
 * here so the frame decoder has no dependency and can be fuzzed standalone.
 */
#ifndef PROV_BASE64_H
#define PROV_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "prov/codes.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Encoded length (characters, no NUL) of n input bytes. */
#define PROV_BASE64_ENCODED_LEN(n) ((((size_t)(n) + 2u) / 3u) * 4u)

/** Upper bound of the decoded length of n base64 characters. */
#define PROV_BASE64_DECODED_MAX(n) (((size_t)(n) / 4u) * 3u)

/**
 * Encode p_in[0..in_len) into p_out. No NUL terminator is written.
 * @param p_out      destination, PROV_BASE64_ENCODED_LEN(in_len) bytes needed
 * @param p_out_len  set to the number of characters written
 * @return PROV_OK; PROV_ERR_BAD_PARAM (NULL pointer); PROV_ERR_NO_SPACE
 *         (out_cap too small, nothing written).
 */
prov_status_t prov_base64_encode(const uint8_t *p_in, size_t in_len, char *p_out, size_t out_cap,
                                 size_t *p_out_len);

/**
 * Strict decode of p_in[0..in_len): the length must be a multiple of 4, every
 * character in the alphabet, and '=' only as the last one or two characters
 * of the text ("A===" is rejected). Non-zero unused bits in the last
 * character are ignored, as Node's Buffer does. The empty text decodes to 0
 * bytes.
 *
 * In-place decoding is allowed: p_out may equal p_in (cast) because output
 * never overtakes input; any other overlap is undefined.
 *
 * @param p_out_len  set to the decoded length on success
 * @return PROV_OK; PROV_ERR_BAD_PARAM; PROV_ERR_BAD_BASE64; PROV_ERR_NO_SPACE
 *         (out_cap smaller than the decoded length).
 */
prov_status_t prov_base64_decode(const char *p_in, size_t in_len, uint8_t *p_out, size_t out_cap,
                                 size_t *p_out_len);

#ifdef __cplusplus
}
#endif

#endif /* PROV_BASE64_H */
