/*
 * TLV payload fields (protocol.md section 5.1).
 */
#include "prov/tlv.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

prov_status_t prov_tlv_writer_init(prov_tlv_writer_t *p_w, uint8_t *p_buf, size_t cap)
{
    prov_status_t status = PROV_OK;

    if (p_w == NULL) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        p_w->p_buf = p_buf;
        p_w->cap = (p_buf == NULL) ? 0u : cap;
        p_w->len = 0;
        p_w->last_tag = -1;
        p_w->status = (p_buf == NULL) ? PROV_ERR_BAD_PARAM : PROV_OK;
        status = p_w->status;
    }
    return status;
}

/* A writer takes no more fields after its first failure (the failure sticks). */
static prov_status_t tlv_writable(const prov_tlv_writer_t *p_w)
{
    return (p_w == NULL) ? PROV_ERR_BAD_PARAM : p_w->status;
}

prov_status_t prov_tlv_put_raw(prov_tlv_writer_t *p_w, const uint8_t *p_data, size_t len)
{
    prov_status_t status = tlv_writable(p_w);

    if (status == PROV_OK) {
        if ((p_data == NULL) && (len > 0u)) {
            status = PROV_ERR_BAD_PARAM;
        } else if (len > (p_w->cap - p_w->len)) {
            status = PROV_ERR_NO_SPACE;
        } else {
            if (len > 0u) {
                (void)memcpy(&p_w->p_buf[p_w->len], p_data, len);
            }
            p_w->len += len;
        }
        p_w->status = status;
    }
    return status;
}

/* Checks a field of len value bytes against order, size and space, writes
 * its header and returns where the value goes; records a failure as sticky.
 * Shared by put() and put_u32list() so both enforce exactly the same rules. */
static prov_status_t tlv_reserve(prov_tlv_writer_t *p_w, uint8_t tag, size_t len, uint8_t **pp_value)
{
    prov_status_t status = tlv_writable(p_w);

    if (status == PROV_OK) {
        size_t room = p_w->cap - p_w->len;
        if ((int)tag <= p_w->last_tag) {
            status = PROV_ERR_TAG_ORDER;
        } else if (len > PROV_TLV_VALUE_MAX_BYTES) {
            status = PROV_ERR_TOO_LARGE;
        } else if ((room < PROV_TLV_HEADER_BYTES) || (len > (room - PROV_TLV_HEADER_BYTES))) {
            status = PROV_ERR_NO_SPACE;
        } else {
            uint8_t *p = &p_w->p_buf[p_w->len];
            p[0] = tag;
            p[1] = (uint8_t)(len >> 8);
            p[2] = (uint8_t)(len & 0xFFu);
            *pp_value = &p[PROV_TLV_HEADER_BYTES];
            p_w->len += PROV_TLV_HEADER_BYTES + len;
            p_w->last_tag = (int)tag;
        }
        p_w->status = status;
    }
    return status;
}

/* Records a bad argument as the writer's sticky failure. */
static prov_status_t tlv_fail(prov_tlv_writer_t *p_w, prov_status_t status)
{
    if ((p_w != NULL) && (p_w->status == PROV_OK)) {
        p_w->status = status;
    }
    return (p_w != NULL) ? p_w->status : PROV_ERR_BAD_PARAM;
}

prov_status_t prov_tlv_put(prov_tlv_writer_t *p_w, uint8_t tag, const uint8_t *p_value, size_t len)
{
    prov_status_t status = PROV_OK;
    uint8_t *p_dst = NULL;

    if ((p_value == NULL) && (len > 0u)) {
        status = tlv_fail(p_w, PROV_ERR_BAD_PARAM);
    } else {
        status = tlv_reserve(p_w, tag, len, &p_dst);
        if ((status == PROV_OK) && (len > 0u)) {
            (void)memcpy(p_dst, p_value, len);
        }
    }
    return status;
}

prov_status_t prov_tlv_put_u8(prov_tlv_writer_t *p_w, uint8_t tag, uint8_t value)
{
    return prov_tlv_put(p_w, tag, &value, 1u);
}

prov_status_t prov_tlv_put_u16(prov_tlv_writer_t *p_w, uint8_t tag, uint16_t value)
{
    uint8_t be[2];

    be[0] = (uint8_t)(value >> 8);
    be[1] = (uint8_t)(value & 0xFFu);
    return prov_tlv_put(p_w, tag, be, sizeof(be));
}

prov_status_t prov_tlv_put_u32(prov_tlv_writer_t *p_w, uint8_t tag, uint32_t value)
{
    uint8_t be[4];

    be[0] = (uint8_t)(value >> 24);
    be[1] = (uint8_t)(value >> 16);
    be[2] = (uint8_t)(value >> 8);
    be[3] = (uint8_t)value;
    return prov_tlv_put(p_w, tag, be, sizeof(be));
}

prov_status_t prov_tlv_put_str(prov_tlv_writer_t *p_w, uint8_t tag, const char *p_str)
{
    prov_status_t status = PROV_OK;

    if (p_str == NULL) {
        status = tlv_fail(p_w, PROV_ERR_BAD_PARAM);
    } else {
        status = prov_tlv_put(p_w, tag, (const uint8_t *)p_str, strlen(p_str));
    }
    return status;
}

prov_status_t prov_tlv_put_bytes(prov_tlv_writer_t *p_w, uint8_t tag, const uint8_t *p_value, size_t len)
{
    return prov_tlv_put(p_w, tag, p_value, len);
}

prov_status_t prov_tlv_put_u32list(prov_tlv_writer_t *p_w, uint8_t tag, const uint32_t *p_values, size_t count)
{
    prov_status_t status = PROV_OK;
    uint8_t *p_dst = NULL;
    size_t i;

    if ((p_values == NULL) && (count > 0u)) {
        status = tlv_fail(p_w, PROV_ERR_BAD_PARAM);
    } else if (count > (PROV_TLV_VALUE_MAX_BYTES / 4u)) {
        status = tlv_fail(p_w, PROV_ERR_TOO_LARGE);
    } else {
        status = tlv_reserve(p_w, tag, count * 4u, &p_dst);
        for (i = 0; (status == PROV_OK) && (i < count); i++) {
            p_dst[(i * 4u)] = (uint8_t)(p_values[i] >> 24);
            p_dst[(i * 4u) + 1u] = (uint8_t)(p_values[i] >> 16);
            p_dst[(i * 4u) + 2u] = (uint8_t)(p_values[i] >> 8);
            p_dst[(i * 4u) + 3u] = (uint8_t)p_values[i];
        }
    }
    return status;
}

size_t prov_tlv_writer_len(const prov_tlv_writer_t *p_w)
{
    return (p_w == NULL) ? 0u : p_w->len;
}

prov_status_t prov_tlv_writer_status(const prov_tlv_writer_t *p_w)
{
    return (p_w == NULL) ? PROV_ERR_BAD_PARAM : p_w->status;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

prov_status_t prov_tlv_reader_init(prov_tlv_reader_t *p_r, const uint8_t *p_buf, size_t len)
{
    prov_status_t status = PROV_OK;

    if ((p_r == NULL) || ((p_buf == NULL) && (len > 0u))) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        p_r->p_buf = p_buf;
        p_r->len = len;
        p_r->pos = 0;
    }
    return status;
}

prov_status_t prov_tlv_next(prov_tlv_reader_t *p_r, prov_tlv_field_t *p_field)
{
    prov_status_t status = PROV_OK;

    if ((p_r == NULL) || (p_field == NULL) || (p_r->pos > p_r->len) || ((p_r->p_buf == NULL) && (p_r->len > 0u))) {
        status = PROV_ERR_BAD_PARAM;
    } else if (p_r->pos == p_r->len) {
        status = PROV_END;
    } else if ((p_r->len - p_r->pos) < PROV_TLV_HEADER_BYTES) {
        status = PROV_ERR_MALFORMED;
    } else {
        const uint8_t *p = &p_r->p_buf[p_r->pos];
        size_t value_len = ((size_t)p[1] << 8) | (size_t)p[2];
        if (value_len > ((p_r->len - p_r->pos) - PROV_TLV_HEADER_BYTES)) {
            status = PROV_ERR_MALFORMED;
        } else {
            p_field->tag = p[0];
            p_field->len = (uint16_t)value_len;
            p_field->p_value = &p[PROV_TLV_HEADER_BYTES];
            p_r->pos += PROV_TLV_HEADER_BYTES + value_len;
        }
    }
    return status;
}

prov_status_t prov_tlv_validate(const uint8_t *p_buf, size_t len)
{
    prov_tlv_reader_t reader;
    prov_tlv_field_t field;
    prov_status_t status = prov_tlv_reader_init(&reader, p_buf, len);

    while (status == PROV_OK) {
        status = prov_tlv_next(&reader, &field);
    }
    return (status == PROV_END) ? PROV_OK : status;
}

prov_status_t prov_tlv_find(const uint8_t *p_buf, size_t len, uint8_t tag, prov_tlv_field_t *p_field)
{
    prov_tlv_reader_t reader;
    prov_tlv_field_t field;
    bool found = false;
    prov_status_t status = PROV_OK;

    if (p_field == NULL) {
        status = PROV_ERR_BAD_PARAM;
    } else {
        status = prov_tlv_reader_init(&reader, p_buf, len);
    }
    /* Walk to the end even after a hit so that a malformed tail is reported. */
    while (status == PROV_OK) {
        status = prov_tlv_next(&reader, &field);
        if ((status == PROV_OK) && (!found) && (field.tag == tag)) {
            *p_field = field;
            found = true;
        }
    }
    if (status == PROV_END) {
        status = found ? PROV_OK : PROV_ERR_NOT_FOUND;
    }
    return status;
}

/* A field of exactly `bytes` bytes as a big-endian unsigned integer. */
static prov_status_t field_uint(const prov_tlv_field_t *p_field, size_t bytes, uint32_t *p_value)
{
    prov_status_t status = PROV_OK;
    uint32_t value = 0;

    if (p_field == NULL) {
        status = PROV_ERR_BAD_PARAM;
    } else if (p_field->len != bytes) {
        status = PROV_ERR_BAD_LENGTH;
    } else {
        for (size_t i = 0; i < bytes; i++) {
            value = (value << 8) | p_field->p_value[i];
        }
        *p_value = value;
    }
    return status;
}

prov_status_t prov_tlv_field_u8(const prov_tlv_field_t *p_field, uint8_t *p_value)
{
    uint32_t value = 0;
    prov_status_t status = (p_value == NULL) ? PROV_ERR_BAD_PARAM : field_uint(p_field, 1u, &value);

    if (status == PROV_OK) {
        *p_value = (uint8_t)value;
    }
    return status;
}

prov_status_t prov_tlv_field_u16(const prov_tlv_field_t *p_field, uint16_t *p_value)
{
    uint32_t value = 0;
    prov_status_t status = (p_value == NULL) ? PROV_ERR_BAD_PARAM : field_uint(p_field, 2u, &value);

    if (status == PROV_OK) {
        *p_value = (uint16_t)value;
    }
    return status;
}

prov_status_t prov_tlv_field_u32(const prov_tlv_field_t *p_field, uint32_t *p_value)
{
    return (p_value == NULL) ? PROV_ERR_BAD_PARAM : field_uint(p_field, 4u, p_value);
}

prov_status_t prov_tlv_field_str_check(const prov_tlv_field_t *p_field)
{
    prov_status_t status = PROV_OK;

    if (p_field == NULL) {
        status = PROV_ERR_BAD_PARAM;
    } else if ((p_field->len > 0u) && (memchr(p_field->p_value, 0, p_field->len) != NULL)) {
        status = PROV_ERR_BAD_VALUE;
    } else {
        status = PROV_OK;
    }
    return status;
}

prov_status_t prov_tlv_field_u32list_count(const prov_tlv_field_t *p_field, size_t *p_count)
{
    prov_status_t status = PROV_OK;

    if ((p_field == NULL) || (p_count == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else if ((p_field->len % 4u) != 0u) {
        status = PROV_ERR_BAD_LENGTH;
    } else {
        *p_count = (size_t)p_field->len / 4u;
    }
    return status;
}

static uint32_t be32_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint32_t prov_tlv_field_u32list_at(const prov_tlv_field_t *p_field, size_t i)
{
    uint32_t value = 0;

    if ((p_field != NULL) && (i < ((size_t)p_field->len / 4u))) {
        value = be32_at(&p_field->p_value[i * 4u]);
    }
    return value;
}

/* Find tag, then read it with the field reader (the prov_tlv_field_uN() of the caller's width). */
#define FIND_THEN(read_field)                                                                                    \
    prov_tlv_field_t field;                                                                                      \
    prov_status_t status = (p_value == NULL) ? PROV_ERR_BAD_PARAM : prov_tlv_find(p_buf, len, tag, &field); \
    return (status == PROV_OK) ? read_field(&field, p_value) : status

prov_status_t prov_tlv_find_u8(const uint8_t *p_buf, size_t len, uint8_t tag, uint8_t *p_value)
{
    FIND_THEN(prov_tlv_field_u8);
}

prov_status_t prov_tlv_find_u16(const uint8_t *p_buf, size_t len, uint8_t tag, uint16_t *p_value)
{
    FIND_THEN(prov_tlv_field_u16);
}

prov_status_t prov_tlv_find_u32(const uint8_t *p_buf, size_t len, uint8_t tag, uint32_t *p_value)
{
    FIND_THEN(prov_tlv_field_u32);
}

prov_status_t prov_tlv_find_str(const uint8_t *p_buf, size_t len, uint8_t tag, const char **pp_str, size_t *p_str_len)
{
    prov_tlv_field_t field;
    prov_status_t status = ((pp_str == NULL) || (p_str_len == NULL)) ? PROV_ERR_BAD_PARAM
                                                                       : prov_tlv_find(p_buf, len, tag, &field);

    if (status == PROV_OK) {
        status = prov_tlv_field_str_check(&field);
    }
    if (status == PROV_OK) {
        *pp_str = (const char *)field.p_value;
        *p_str_len = field.len;
    }
    return status;
}

prov_status_t prov_tlv_find_str_or_empty(const uint8_t *p_buf, size_t len, uint8_t tag, const char **pp_str,
                                         size_t *p_str_len)
{
    prov_status_t status = prov_tlv_find_str(p_buf, len, tag, pp_str, p_str_len);

    if (status == PROV_ERR_NOT_FOUND) {
        *pp_str = "";
        *p_str_len = 0u;
        status = PROV_OK;
    }
    return status;
}

prov_status_t prov_tlv_find_cstr(const uint8_t *p_buf, size_t len, uint8_t tag, char *p_out, size_t out_cap)
{
    const char *p_str = NULL;
    size_t str_len = 0;
    prov_status_t status = (p_out == NULL) ? PROV_ERR_BAD_PARAM : prov_tlv_find_str(p_buf, len, tag, &p_str, &str_len);

    if (status == PROV_OK) {
        if (str_len >= out_cap) {
            status = PROV_ERR_TOO_LARGE;
        } else {
            if (str_len > 0u) {
                (void)memcpy(p_out, p_str, str_len);
            }
            p_out[str_len] = '\0';
        }
    }
    return status;
}

prov_status_t prov_tlv_find_bytes(const uint8_t *p_buf, size_t len, uint8_t tag, const uint8_t **pp_value,
                                  size_t *p_value_len)
{
    prov_tlv_field_t field;
    prov_status_t status = ((pp_value == NULL) || (p_value_len == NULL)) ? PROV_ERR_BAD_PARAM
                                                                           : prov_tlv_find(p_buf, len, tag, &field);

    if (status == PROV_OK) {
        *pp_value = field.p_value;
        *p_value_len = field.len;
    }
    return status;
}
