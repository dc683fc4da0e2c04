/*
 * Test helpers shared by the cmocka suites: loading the protocol vectors
 * (test/vectors/NAME.json, the same files the TypeScript suite reads), hex,
 * WHATWG-style UTF-8 decoding (to compare raw log bytes with the vectors'
 * text, which the host decodes with replacement), and SHA-256 from mbedTLS.
 * Test code only: it allocates, the core does not.
 */
#ifndef PROV_TEST_VECTORS_H
#define PROV_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/**
 * Parse <dir>/<file_name>, where dir is $PROV_VECTORS_DIR, else the
 * compile-time PROV_VECTORS_DIR. Returns NULL (and prints why) when the file
 * is missing or not JSON. Free with cJSON_Delete().
 */
cJSON *prov_test_load_vectors(const char *p_file_name);

/** The "vectors" array of a loaded file, or NULL. */
const cJSON *prov_test_vector_list(const cJSON *p_root);

/**
 * Decode a hex string into a malloc'ed buffer (*p_len set; never NULL on
 * success, even for ""). Returns NULL on odd length or a non-hex digit.
 */
uint8_t *prov_test_hex_decode(const char *p_hex, size_t *p_len);

/** Lowercase hex of p_data as a malloc'ed C string. */
char *prov_test_hex_encode(const uint8_t *p_data, size_t len);

/**
 * Decode bytes as UTF-8 with U+FFFD replacement per maximal subpart (the
 * WHATWG decoder Node's TextDecoder implements), re-encoded as a malloc'ed
 * UTF-8 C string.
 */
char *prov_test_utf8_decode_replace(const uint8_t *p_data, size_t len);

/** SHA-256 via mbedTLS (2.28: mbedtls_sha256_ret, 3.x: mbedtls_sha256); 0 on success. */
int prov_test_sha256(const uint8_t *p_data, size_t len, uint8_t p_digest[32]);

/** Integer member of a vector object (numbers, or numeric strings); aborts the test if absent. */
long prov_test_json_int(const cJSON *p_obj, const char *p_key);

/** String member; aborts the test if absent. */
const char *prov_test_json_str(const cJSON *p_obj, const char *p_key);

#endif /* PROV_TEST_VECTORS_H */
