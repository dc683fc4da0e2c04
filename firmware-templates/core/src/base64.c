#include "prov/base64.h"

static const char base64_alphabet[64] = {
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
    'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
    'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
    'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '/',
};

/* Value 0..63 of a base64 character, or -1. Computed rather than tabled so
 * the decoder does not depend on the execution character set being ASCII
 * beyond the ranges below. */
static int base64_value(uint8_t c)
{
    int v = -1;

    if ((c >= (uint8_t)'A') && (c <= (uint8_t)'Z')) {
        v = (int)(c - (uint8_t)'A');
    } else if ((c >= (uint8_t)'a') && (c <= (uint8_t)'z')) {
        v = (int)(c - (uint8_t)'a') + 26;
    } else if ((c >= (uint8_t)'0') && (c <= (uint8_t)'9')) {
        v = (int)(c - (uint8_t)'0') + 52;
    } else if (c == (uint8_t)'+') {
        v = 62;
    } else if (c == (uint8_t)'/') {
        v = 63;
    } else {
        v = -1;
    }
    return v;
}

prov_status_t prov_base64_encode(const uint8_t *p_in, size_t in_len, char *p_out, size_t out_cap,
                                 size_t *p_out_len)
{
    prov_status_t status = PROV_OK;
    size_t need = PROV_BASE64_ENCODED_LEN(in_len);
    size_t i = 0;
    size_t o = 0;

    if (((p_in == NULL) && (in_len > 0u)) || (p_out == NULL) || (p_out_len == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else if (out_cap < need) {
        status = PROV_ERR_NO_SPACE;
    } else {
        while ((in_len - i) >= 3u) {
            uint32_t v = ((uint32_t)p_in[i] << 16) | ((uint32_t)p_in[i + 1u] << 8) | (uint32_t)p_in[i + 2u];
            p_out[o] = base64_alphabet[(v >> 18) & 0x3Fu];
            p_out[o + 1u] = base64_alphabet[(v >> 12) & 0x3Fu];
            p_out[o + 2u] = base64_alphabet[(v >> 6) & 0x3Fu];
            p_out[o + 3u] = base64_alphabet[v & 0x3Fu];
            i += 3u;
            o += 4u;
        }
        if ((in_len - i) > 0u) {
            uint32_t v = (uint32_t)p_in[i] << 16;
            if ((in_len - i) == 2u) {
                v |= (uint32_t)p_in[i + 1u] << 8;
            }
            p_out[o] = base64_alphabet[(v >> 18) & 0x3Fu];
            p_out[o + 1u] = base64_alphabet[(v >> 12) & 0x3Fu];
            p_out[o + 2u] = ((in_len - i) == 2u) ? base64_alphabet[(v >> 6) & 0x3Fu] : '=';
            p_out[o + 3u] = '=';
            o += 4u;
        }
        *p_out_len = o;
    }
    return status;
}

prov_status_t prov_base64_decode(const char *p_in, size_t in_len, uint8_t *p_out, size_t out_cap,
                                 size_t *p_out_len)
{
    prov_status_t status = PROV_OK;
    const uint8_t *p_text = (const uint8_t *)p_in;
    size_t pad = 0;
    size_t out_len = 0;
    size_t i;

    if (((p_in == NULL) && (in_len > 0u)) || ((p_out == NULL) && (out_cap > 0u)) || (p_out_len == NULL)) {
        status = PROV_ERR_BAD_PARAM;
    } else if ((in_len % 4u) != 0u) {
        status = PROV_ERR_BAD_BASE64;
    } else {
        while ((pad < in_len) && (pad < 3u) && (p_text[in_len - 1u - pad] == (uint8_t)'=')) {
            pad++;
        }
        if (pad > 2u) {
            status = PROV_ERR_BAD_BASE64;
        }
        for (i = 0; (status == PROV_OK) && (i < (in_len - pad)); i++) {
            if (base64_value(p_text[i]) < 0) {
                status = PROV_ERR_BAD_BASE64;
            }
        }
        if (status == PROV_OK) {
            out_len = ((in_len / 4u) * 3u) - pad;
            if (out_cap < out_len) {
                status = PROV_ERR_NO_SPACE;
            }
        }
        if (status == PROV_OK) {
            size_t o = 0;
            /* Each group reads its 4 characters before writing its <= 3 bytes
             * at a lower or equal index, which makes in-place decoding safe. */
            for (i = 0; i < in_len; i += 4u) {
                uint32_t v = 0;
                size_t k;
                for (k = 0; k < 4u; k++) {
                    int d = base64_value(p_text[i + k]);
                    v = (v << 6) | (uint32_t)((d < 0) ? 0 : d);
                }
                if (o < out_len) {
                    p_out[o++] = (uint8_t)(v >> 16);
                }
                if (o < out_len) {
                    p_out[o++] = (uint8_t)(v >> 8);
                }
                if (o < out_len) {
                    p_out[o++] = (uint8_t)v;
                }
            }
            *p_out_len = out_len;
        }
    }
    return status;
}
