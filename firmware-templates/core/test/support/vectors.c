#include "vectors.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "mbedtls/sha256.h"
#include "mbedtls/version.h"

#ifndef PROV_VECTORS_DIR
#define PROV_VECTORS_DIR "../test/vectors"
#endif

cJSON *prov_test_load_vectors(const char *p_file_name)
{
    const char *p_dir = getenv("PROV_VECTORS_DIR");
    char path[1024];
    FILE *p_file = NULL;
    char *p_text = NULL;
    long size = 0;
    cJSON *p_root = NULL;

    if ((p_dir == NULL) || (p_dir[0] == '\0')) {
        p_dir = PROV_VECTORS_DIR;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", p_dir, p_file_name);
    p_file = fopen(path, "rb");
    if (p_file == NULL) {
        print_error("cannot open %s (set PROV_VECTORS_DIR)\n", path);
    } else if ((fseek(p_file, 0, SEEK_END) != 0) || ((size = ftell(p_file)) < 0) || (fseek(p_file, 0, SEEK_SET) != 0)) {
        print_error("cannot size %s\n", path);
    } else {
        p_text = malloc((size_t)size + 1u);
        if ((p_text != NULL) && (fread(p_text, 1, (size_t)size, p_file) == (size_t)size)) {
            p_text[size] = '\0';
            p_root = cJSON_Parse(p_text);
            if (p_root == NULL) {
                print_error("%s is not valid JSON\n", path);
            }
        }
    }
    free(p_text);
    if (p_file != NULL) {
        (void)fclose(p_file);
    }
    return p_root;
}

const cJSON *prov_test_vector_list(const cJSON *p_root)
{
    const cJSON *p_list = cJSON_GetObjectItemCaseSensitive(p_root, "vectors");
    return cJSON_IsArray(p_list) ? p_list : NULL;
}

static int hex_digit(char c)
{
    int v = -1;
    if ((c >= '0') && (c <= '9')) {
        v = c - '0';
    } else if ((c >= 'a') && (c <= 'f')) {
        v = c - 'a' + 10;
    } else if ((c >= 'A') && (c <= 'F')) {
        v = c - 'A' + 10;
    }
    return v;
}

uint8_t *prov_test_hex_decode(const char *p_hex, size_t *p_len)
{
    size_t n = strlen(p_hex);
    uint8_t *p_out = NULL;
    size_t i;

    if ((n % 2u) == 0u) {
        p_out = malloc((n / 2u) + 1u);
        for (i = 0; (p_out != NULL) && (i < n / 2u); i++) {
            int hi = hex_digit(p_hex[2u * i]);
            int lo = hex_digit(p_hex[(2u * i) + 1u]);
            if ((hi < 0) || (lo < 0)) {
                free(p_out);
                p_out = NULL;
            } else {
                p_out[i] = (uint8_t)((hi << 4) | lo);
            }
        }
        if (p_out != NULL) {
            *p_len = n / 2u;
        }
    }
    return p_out;
}

char *prov_test_hex_encode(const uint8_t *p_data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *p_out = malloc((2u * len) + 1u);
    size_t i;

    if (p_out != NULL) {
        for (i = 0; i < len; i++) {
            p_out[2u * i] = digits[p_data[i] >> 4];
            p_out[(2u * i) + 1u] = digits[p_data[i] & 0x0Fu];
        }
        p_out[2u * len] = '\0';
    }
    return p_out;
}

static size_t utf8_put(char *p_out, uint32_t cp)
{
    size_t n = 0;
    if (cp < 0x80u) {
        p_out[n++] = (char)cp;
    } else if (cp < 0x800u) {
        p_out[n++] = (char)(0xC0u | (cp >> 6));
        p_out[n++] = (char)(0x80u | (cp & 0x3Fu));
    } else if (cp < 0x10000u) {
        p_out[n++] = (char)(0xE0u | (cp >> 12));
        p_out[n++] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        p_out[n++] = (char)(0x80u | (cp & 0x3Fu));
    } else {
        p_out[n++] = (char)(0xF0u | (cp >> 18));
        p_out[n++] = (char)(0x80u | ((cp >> 12) & 0x3Fu));
        p_out[n++] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        p_out[n++] = (char)(0x80u | (cp & 0x3Fu));
    }
    return n;
}

/* The WHATWG Encoding Standard UTF-8 decoder, step by step. */
char *prov_test_utf8_decode_replace(const uint8_t *p_data, size_t len)
{
    char *p_out = malloc((3u * len) + 1u); /* each byte yields at most one U+FFFD (3 bytes) */
    size_t o = 0;
    size_t i = 0;
    uint32_t cp = 0;
    unsigned needed = 0;
    unsigned seen = 0;
    uint8_t lower = 0x80u;
    uint8_t upper = 0xBFu;

    if (p_out == NULL) {
        return NULL;
    }
    while (i < len) {
        uint8_t b = p_data[i];
        if (needed == 0u) {
            i++;
            if (b <= 0x7Fu) {
                o += utf8_put(&p_out[o], b);
            } else if ((b >= 0xC2u) && (b <= 0xDFu)) {
                needed = 1u;
                cp = b & 0x1Fu;
            } else if ((b >= 0xE0u) && (b <= 0xEFu)) {
                if (b == 0xE0u) {
                    lower = 0xA0u;
                }
                if (b == 0xEDu) {
                    upper = 0x9Fu;
                }
                needed = 2u;
                cp = b & 0x0Fu;
            } else if ((b >= 0xF0u) && (b <= 0xF4u)) {
                if (b == 0xF0u) {
                    lower = 0x90u;
                }
                if (b == 0xF4u) {
                    upper = 0x8Fu;
                }
                needed = 3u;
                cp = b & 0x07u;
            } else {
                o += utf8_put(&p_out[o], 0xFFFDu);
            }
        } else if ((b < lower) || (b > upper)) {
            /* not consumed: the byte is looked at again as a new start */
            cp = 0;
            needed = 0;
            seen = 0;
            lower = 0x80u;
            upper = 0xBFu;
            o += utf8_put(&p_out[o], 0xFFFDu);
        } else {
            i++;
            lower = 0x80u;
            upper = 0xBFu;
            cp = (cp << 6) | (b & 0x3Fu);
            seen++;
            if (seen == needed) {
                o += utf8_put(&p_out[o], cp);
                cp = 0;
                needed = 0;
                seen = 0;
            }
        }
    }
    if (needed != 0u) {
        o += utf8_put(&p_out[o], 0xFFFDu);
    }
    p_out[o] = '\0';
    return p_out;
}

int prov_test_sha256(const uint8_t *p_data, size_t len, uint8_t p_digest[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_sha256(p_data, len, p_digest, 0);
#else
    return mbedtls_sha256_ret(p_data, len, p_digest, 0);
#endif
}

long prov_test_json_int(const cJSON *p_obj, const char *p_key)
{
    const cJSON *p_item = cJSON_GetObjectItemCaseSensitive(p_obj, p_key);
    long value = 0;

    if (cJSON_IsNumber(p_item)) {
        value = (long)p_item->valuedouble;
    } else if (cJSON_IsString(p_item)) {
        value = strtol(p_item->valuestring, NULL, 0);
    } else {
        fail_msg("vector member \"%s\" missing or not a number", p_key);
    }
    return value;
}

const char *prov_test_json_str(const cJSON *p_obj, const char *p_key)
{
    const cJSON *p_item = cJSON_GetObjectItemCaseSensitive(p_obj, p_key);
    const char *p_value = "";

    if (cJSON_IsString(p_item)) {
        p_value = p_item->valuestring;
    } else {
        fail_msg("vector member \"%s\" missing or not a string", p_key);
    }
    return p_value;
}
