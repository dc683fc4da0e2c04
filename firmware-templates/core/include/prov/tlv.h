/*
 * tlv.h - message payload fields (protocol.md section 5.1):
 *
 *   field = tag(1) length(2, BE) value(length)
 *
 * Writer: appends fields to a fixed caller buffer in ascending tag order.
 * Errors are sticky: after the first failure every later put returns the
 * same status and nothing more is written, so a handler can write all its
 * fields and check prov_tlv_writer_status() once.
 *
 * Reader: walks a payload with bounds checks; never reads outside
 * [p_buf, p_buf + len). Typed lookups check the integer length exactly.
 * Decoders accept any tag order and ignore unknown tags (forward
 * compatibility); with duplicate tags the find functions return the first.
 *
 * Response payloads start with a status byte (section 5.2): write it with
 * prov_tlv_put_raw() and read the fields with a reader over p + 1, len - 1.
 */
#ifndef PROV_TLV_H
#define PROV_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov/codes.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROV_TLV_HEADER_BYTES 3u       /**< tag + 16-bit length */
#define PROV_TLV_VALUE_MAX_BYTES 65535u /**< largest length a field can carry */

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

/** Writer state; read len (bytes written) and status through the accessors. */
typedef struct prov_tlv_writer {
    uint8_t *p_buf;       /**< caller buffer */
    size_t cap;           /**< its size */
    size_t len;           /**< bytes written so far */
    int last_tag;         /**< last tag written, -1 before the first field */
    prov_status_t status; /**< first failure, sticky; PROV_OK while all went well */
} prov_tlv_writer_t;

/**
 * Start writing into p_buf[0..cap). A NULL p_buf or NULL p_w makes the
 * writer fail with PROV_ERR_BAD_PARAM (returned here and sticky).
 */
prov_status_t prov_tlv_writer_init(prov_tlv_writer_t *p_w, uint8_t *p_buf, size_t cap);

/**
 * Append raw bytes outside the TLV structure (the response status byte).
 * @return PROV_OK; PROV_ERR_NO_SPACE; PROV_ERR_BAD_PARAM; or the sticky status.
 */
prov_status_t prov_tlv_put_raw(prov_tlv_writer_t *p_w, const uint8_t *p_data, size_t len);

/**
 * Append a field tag/len/value. p_value may be NULL only when len is 0.
 * @return PROV_OK; PROV_ERR_TAG_ORDER (tag <= the previous tag);
 *         PROV_ERR_TOO_LARGE (len > 65535); PROV_ERR_NO_SPACE (the field
 *         does not fit: nothing of it is written); PROV_ERR_BAD_PARAM;
 *         or the sticky status of an earlier failure.
 */
prov_status_t prov_tlv_put(prov_tlv_writer_t *p_w, uint8_t tag, const uint8_t *p_value, size_t len);

/** u8 field (length 1). Same returns as prov_tlv_put(). */
prov_status_t prov_tlv_put_u8(prov_tlv_writer_t *p_w, uint8_t tag, uint8_t value);
/** u16 field, big-endian (length 2). */
prov_status_t prov_tlv_put_u16(prov_tlv_writer_t *p_w, uint8_t tag, uint16_t value);
/** u32 field, big-endian (length 4). */
prov_status_t prov_tlv_put_u32(prov_tlv_writer_t *p_w, uint8_t tag, uint32_t value);
/** str field from a NUL-terminated C string (the NUL is not written). NULL -> PROV_ERR_BAD_PARAM. */
prov_status_t prov_tlv_put_str(prov_tlv_writer_t *p_w, uint8_t tag, const char *p_str);
/** bytes (or u8list) field. */
prov_status_t prov_tlv_put_bytes(prov_tlv_writer_t *p_w, uint8_t tag, const uint8_t *p_value, size_t len);
/** u32list field: count values, each big-endian. */
prov_status_t prov_tlv_put_u32list(prov_tlv_writer_t *p_w, uint8_t tag, const uint32_t *p_values, size_t count);

/** Bytes written so far (the payload length once done). 0 for NULL. */
size_t prov_tlv_writer_len(const prov_tlv_writer_t *p_w);
/** PROV_OK if every put succeeded, else the first failure. */
prov_status_t prov_tlv_writer_status(const prov_tlv_writer_t *p_w);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

/** One field as read; p_value points into the reader's buffer. */
typedef struct prov_tlv_field {
    uint8_t tag;
    uint16_t len;
    const uint8_t *p_value; /**< len bytes (not NUL-terminated) */
} prov_tlv_field_t;

/** Iterator over a payload. */
typedef struct prov_tlv_reader {
    const uint8_t *p_buf;
    size_t len;
    size_t pos;
} prov_tlv_reader_t;

/** Start reading p_buf[0..len). p_buf may be NULL only when len is 0. */
prov_status_t prov_tlv_reader_init(prov_tlv_reader_t *p_r, const uint8_t *p_buf, size_t len);

/**
 * Next field.
 * @return PROV_OK (field filled); PROV_END (no bytes left);
 *         PROV_ERR_MALFORMED (fewer than 3 header bytes left, or the length
 *         overruns the payload; the reader then stays at that position);
 *         PROV_ERR_BAD_PARAM.
 */
prov_status_t prov_tlv_next(prov_tlv_reader_t *p_r, prov_tlv_field_t *p_field);

/** Walk the whole payload: PROV_OK if every field is in bounds, else PROV_ERR_MALFORMED. */
prov_status_t prov_tlv_validate(const uint8_t *p_buf, size_t len);

/**
 * First field with this tag. Checks the whole payload first, so a malformed
 * payload is reported even if the tag comes before the bad field.
 * @return PROV_OK; PROV_ERR_NOT_FOUND; PROV_ERR_MALFORMED; PROV_ERR_BAD_PARAM.
 */
prov_status_t prov_tlv_find(const uint8_t *p_buf, size_t len, uint8_t tag, prov_tlv_field_t *p_field);

/** Field value as u8: PROV_OK or PROV_ERR_BAD_LENGTH (len != 1). */
prov_status_t prov_tlv_field_u8(const prov_tlv_field_t *p_field, uint8_t *p_value);
/** Field value as big-endian u16: PROV_OK or PROV_ERR_BAD_LENGTH (len != 2). */
prov_status_t prov_tlv_field_u16(const prov_tlv_field_t *p_field, uint16_t *p_value);
/** Field value as big-endian u32: PROV_OK or PROV_ERR_BAD_LENGTH (len != 4). */
prov_status_t prov_tlv_field_u32(const prov_tlv_field_t *p_field, uint32_t *p_value);
/** Field value is a valid str: PROV_OK or PROV_ERR_BAD_VALUE (contains NUL). UTF-8 is not checked. */
prov_status_t prov_tlv_field_str_check(const prov_tlv_field_t *p_field);
/** Number of u32 in a u32list: PROV_OK or PROV_ERR_BAD_LENGTH (len not a multiple of 4). */
prov_status_t prov_tlv_field_u32list_count(const prov_tlv_field_t *p_field, size_t *p_count);
/** Element i of a u32list (caller checks i < count). */
uint32_t prov_tlv_field_u32list_at(const prov_tlv_field_t *p_field, size_t i);

/* Find + convert in one call. Each returns PROV_OK, PROV_ERR_NOT_FOUND,
 * PROV_ERR_MALFORMED, the conversion's error, or PROV_ERR_BAD_PARAM; the
 * output is written only on PROV_OK. For an optional field treat
 * PROV_ERR_NOT_FOUND as "absent"; for a required one map any error with
 * prov_status_to_error_code() (-> ERR_BAD_PAYLOAD). */
prov_status_t prov_tlv_find_u8(const uint8_t *p_buf, size_t len, uint8_t tag, uint8_t *p_value);
prov_status_t prov_tlv_find_u16(const uint8_t *p_buf, size_t len, uint8_t tag, uint16_t *p_value);
prov_status_t prov_tlv_find_u32(const uint8_t *p_buf, size_t len, uint8_t tag, uint32_t *p_value);
/** str value as pointer + length (not NUL-terminated), NUL inside -> PROV_ERR_BAD_VALUE. */
prov_status_t prov_tlv_find_str(const uint8_t *p_buf, size_t len, uint8_t tag, const char **pp_str, size_t *p_str_len);
/** As prov_tlv_find_str, but an absent field reads as the empty string (optional text fields). */
prov_status_t prov_tlv_find_str_or_empty(const uint8_t *p_buf, size_t len, uint8_t tag, const char **pp_str,
                                         size_t *p_str_len);
/** str value copied into p_out as a C string: PROV_ERR_TOO_LARGE if len + 1 > out_cap (p_out untouched). */
prov_status_t prov_tlv_find_cstr(const uint8_t *p_buf, size_t len, uint8_t tag, char *p_out, size_t out_cap);
/** bytes value as pointer + length. */
prov_status_t prov_tlv_find_bytes(const uint8_t *p_buf, size_t len, uint8_t tag, const uint8_t **pp_value,
                                  size_t *p_value_len);

#ifdef __cplusplus
}
#endif

#endif /* PROV_TLV_H */
