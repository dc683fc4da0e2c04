/*
 * The C codec against the shared protocol vectors (test/vectors, written by
 * scripts/gen-vectors.ts and read by the TypeScript suite too), byte for
 * byte. One cmocka test per vector, named after it, so a failure names the
 * vector. A missing or empty vector file fails; it is never skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prov/chunk.h"
#include "prov/frame.h"
#include "prov/tlv.h"
#include "rx_events.h"
#include "vectors.h"

/* ---- frames.json ---------------------------------------------------------- */

static void test_frame_vector(void **state)
{
    const cJSON *p_v = *state;
    const cJSON *p_expect = cJSON_GetObjectItemCaseSensitive(p_v, "expect");
    const cJSON *p_e = NULL;
    static prov_rx_t rx;
    prov_test_rx_list_t whole = {0};
    prov_test_rx_list_t bytewise = {0};
    size_t wire_len = 0;
    uint8_t *p_wire = prov_test_hex_decode(prov_test_json_str(p_v, "wire_hex"), &wire_len);
    uint8_t *p_no_cr = NULL;
    size_t no_cr_len = 0;
    size_t i;

    assert_non_null(p_wire);
    assert_true(cJSON_IsArray(p_expect));

    assert_int_equal(prov_rx_init(&rx, prov_test_rx_collect, &whole), PROV_OK);
    assert_int_equal(prov_rx_push(&rx, p_wire, wire_len), PROV_OK);
    prov_test_rx_check(&whole, p_expect, "whole");

    assert_int_equal(prov_rx_init(&rx, prov_test_rx_collect, &bytewise), PROV_OK);
    for (i = 0; i < wire_len; i++) {
        assert_int_equal(prov_rx_push(&rx, &p_wire[i], 1), PROV_OK);
    }
    prov_test_rx_check(&bytewise, p_expect, "byte at a time");

    /* every expected frame re-encodes to line bytes present in the wire
     * (with CRs removed: CRLF-ended lines end in LF when we encode) */
    p_no_cr = malloc(wire_len + 1u);
    assert_non_null(p_no_cr);
    for (i = 0; i < wire_len; i++) {
        if (p_wire[i] != 0x0Du) {
            p_no_cr[no_cr_len++] = p_wire[i];
        }
    }
    cJSON_ArrayForEach(p_e, p_expect) {
        if (strcmp(prov_test_json_str(p_e, "kind"), "frame") == 0) {
            static uint8_t line[PROV_FRAME_LINE_BYTES_MAX];
            size_t line_len = 0;
            size_t payload_len = 0;
            uint8_t *p_payload = prov_test_hex_decode(prov_test_json_str(p_e, "payload_hex"), &payload_len);
            prov_frame_t f;
            bool found = false;

            assert_non_null(p_payload);
            f.version = (uint8_t)prov_test_json_int(p_e, "version");
            f.type = (uint8_t)prov_test_json_int(p_e, "type");
            f.seq = (uint16_t)prov_test_json_int(p_e, "seq");
            f.flags = (uint8_t)prov_test_json_int(p_e, "flags");
            f.p_payload = p_payload;
            f.payload_len = payload_len;
            assert_int_equal(prov_frame_encode(&f, line, sizeof(line), &line_len), PROV_OK);
            for (i = 0; (!found) && ((i + line_len) <= no_cr_len); i++) {
                found = (memcmp(&p_no_cr[i], line, line_len) == 0);
            }
            if (!found) {
                fail_msg("re-encoded frame type %u seq %u is not in the wire bytes", f.type, f.seq);
            }
            free(p_payload);
        }
    }
    free(p_no_cr);
    free(p_wire);
    prov_test_rx_free(&whole);
    prov_test_rx_free(&bytewise);
}

/* ---- messages.json -------------------------------------------------------- */

static void test_message_vector(void **state)
{
    const cJSON *p_v = *state;
    const cJSON *p_tlv = cJSON_GetObjectItemCaseSensitive(p_v, "tlv");
    const cJSON *p_status = cJSON_GetObjectItemCaseSensitive(p_tlv, "status");
    const cJSON *p_fields = cJSON_GetObjectItemCaseSensitive(p_tlv, "fields");
    const cJSON *p_f = NULL;
    size_t payload_len = 0;
    uint8_t *p_payload = prov_test_hex_decode(prov_test_json_str(p_v, "payload_hex"), &payload_len);
    const uint8_t *p_tlv_bytes = p_payload;
    size_t tlv_len = payload_len;
    prov_tlv_reader_t r;
    prov_tlv_field_t field;
    prov_tlv_writer_t w;
    uint8_t *p_again = NULL;
    const char *p_kind = prov_test_json_str(p_v, "kind");
    bool is_response = (strcmp(p_kind, "response") == 0) || (strcmp(p_kind, "error") == 0) ||
                       (strcmp(p_kind, "chunk_ack") == 0);

    assert_non_null(p_payload);
    assert_true(cJSON_IsArray(p_fields));
    /* status byte exactly for responses */
    assert_int_equal(cJSON_IsNumber(p_status), is_response);
    assert_int_equal((prov_test_json_int(p_v, "flags") & PROV_FLAG_RESPONSE) != 0, is_response);
    if (is_response) {
        assert_true(payload_len >= 1u);
        assert_int_equal(p_payload[0], (long)p_status->valuedouble);
        p_tlv_bytes = &p_payload[1];
        tlv_len = payload_len - 1u;
    }

    /* the reader walks exactly the listed fields */
    assert_int_equal(prov_tlv_validate(p_tlv_bytes, tlv_len), PROV_OK);
    assert_int_equal(prov_tlv_reader_init(&r, p_tlv_bytes, tlv_len), PROV_OK);
    cJSON_ArrayForEach(p_f, p_fields) {
        char *p_hex = NULL;
        prov_tlv_field_t first;
        assert_int_equal(prov_tlv_next(&r, &field), PROV_OK);
        assert_int_equal(field.tag, prov_test_json_int(p_f, "tag"));
        p_hex = prov_test_hex_encode(field.p_value, field.len);
        assert_string_equal(p_hex, prov_test_json_str(p_f, "hex"));
        free(p_hex);
        /* encoders write each tag once, so find() returns this very field */
        assert_int_equal(prov_tlv_find(p_tlv_bytes, tlv_len, field.tag, &first), PROV_OK);
        assert_ptr_equal(first.p_value, field.p_value);
    }
    assert_int_equal(prov_tlv_next(&r, &field), PROV_END);

    /* writing the list back (status first) reproduces payload_hex; the
     * writer also checks the ascending tag order of section 5.1 */
    p_again = malloc(payload_len + 1u);
    assert_non_null(p_again);
    assert_int_equal(prov_tlv_writer_init(&w, p_again, payload_len), PROV_OK);
    if (is_response) {
        const uint8_t status = (uint8_t)p_status->valuedouble;
        assert_int_equal(prov_tlv_put_raw(&w, &status, 1), PROV_OK);
    }
    cJSON_ArrayForEach(p_f, p_fields) {
        size_t value_len = 0;
        uint8_t *p_value = prov_test_hex_decode(prov_test_json_str(p_f, "hex"), &value_len);
        assert_non_null(p_value);
        assert_int_equal(prov_tlv_put(&w, (uint8_t)prov_test_json_int(p_f, "tag"), p_value, value_len), PROV_OK);
        free(p_value);
    }
    assert_int_equal(prov_tlv_writer_status(&w), PROV_OK);
    assert_int_equal(prov_tlv_writer_len(&w), payload_len);
    if (payload_len > 0u) {
        assert_memory_equal(p_again, p_payload, payload_len);
    }
    /* an error response carries TLV 0x01 str text of at most 96 bytes */
    if (strcmp(p_kind, "error") == 0) {
        const char *p_text = NULL;
        size_t text_len = 0;
        assert_int_not_equal(p_payload[0], 0);
        assert_int_equal(prov_tlv_find_str(p_tlv_bytes, tlv_len, 0x01, &p_text, &text_len), PROV_OK);
        assert_true(text_len <= PROV_ERROR_TEXT_MAX_BYTES);
    }
    free(p_again);
    free(p_payload);
}

/* ---- chunks.json ---------------------------------------------------------- */

typedef struct chunk_ctx {
    prov_chunk_rx_t *p_re;
    size_t frames;
    size_t expected_received;
    prov_chunk_progress_t last;
    prov_status_t last_status;
    size_t max_frame;
    uint8_t type;
} chunk_ctx_t;

static void on_chunk_frame(void *p_context, const prov_rx_event_t *p_event)
{
    chunk_ctx_t *p_ctx = p_context;

    assert_int_equal(p_event->kind, PROV_RX_EVENT_FRAME);
    assert_int_equal(p_event->frame.flags, PROV_FLAG_CHUNK);
    assert_int_equal(p_event->frame.type, p_ctx->type);
    assert_true(p_event->frame.payload_len + PROV_FRAME_OVERHEAD_BYTES <= p_ctx->max_frame);
    p_ctx->frames++;
    assert_int_equal(p_event->frame.seq, p_ctx->frames);
    p_ctx->last_status = prov_chunk_rx_push_type(p_ctx->p_re, p_event->frame.type, p_event->frame.p_payload,
                                                 p_event->frame.payload_len, &p_ctx->last);
    assert_int_equal(p_ctx->last_status, PROV_OK);
}

static void test_chunk_vector(void **state)
{
    const cJSON *p_v = *state;
    const cJSON *p_frames = cJSON_GetObjectItemCaseSensitive(p_v, "frames_hex");
    const cJSON *p_line = NULL;
    size_t payload_len = 0;
    uint8_t *p_payload = prov_test_hex_decode(prov_test_json_str(p_v, "payload_hex"), &payload_len);
    size_t max_frame = (size_t)prov_test_json_int(p_v, "max_frame");
    uint8_t type = (uint8_t)prov_test_json_int(p_v, "type");
    static uint8_t chunk[PROV_FRAME_PAYLOAD_MAX];
    static uint8_t line[PROV_FRAME_LINE_BYTES_MAX];
    static uint8_t reassembly[PROV_PAYLOAD_MAX];
    static prov_chunk_rx_t re;
    static prov_rx_t rx;
    prov_chunk_tx_t tx;
    chunk_ctx_t ctx;
    prov_status_t s = PROV_OK;
    size_t chunk_len = 0;
    size_t line_len = 0;
    uint16_t seq = 1;

    assert_non_null(p_payload);
    assert_true(cJSON_IsArray(p_frames));

    /* split: each chunk as a CHUNK frame, seq from 1, equals frames_hex[i] */
    assert_int_equal(prov_chunk_tx_init(&tx, p_payload, payload_len, max_frame, prov_test_sha256), PROV_OK);
    p_line = (p_frames != NULL) ? p_frames->child : NULL;
    while ((s = prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len)) == PROV_OK) {
        prov_frame_t f = {PROV_PROTOCOL_VERSION, type, seq, PROV_FLAG_CHUNK, chunk, chunk_len};
        char *p_hex = NULL;
        assert_int_equal(prov_frame_encode(&f, line, sizeof(line), &line_len), PROV_OK);
        if (p_line == NULL) {
            fail_msg("splitter made more than the %d frames of the vector", cJSON_GetArraySize(p_frames));
        }
        p_hex = prov_test_hex_encode(line, line_len);
        assert_string_equal(p_hex, p_line->valuestring);
        free(p_hex);
        p_line = p_line->next;
        seq++;
    }
    assert_int_equal(s, PROV_END);
    assert_null(p_line);

    /* the vector's bytes through a receiver (byte at a time) and the
     * reassembler give the payload back */
    assert_int_equal(prov_chunk_rx_init(&re, reassembly, sizeof(reassembly), prov_test_sha256), PROV_OK);
    memset(&ctx, 0, sizeof(ctx));
    ctx.p_re = &re;
    ctx.max_frame = max_frame;
    ctx.type = type;
    assert_int_equal(prov_rx_init(&rx, on_chunk_frame, &ctx), PROV_OK);
    cJSON_ArrayForEach(p_line, p_frames) {
        size_t n = 0;
        size_t i;
        uint8_t *p_bytes = prov_test_hex_decode(p_line->valuestring, &n);
        assert_non_null(p_bytes);
        for (i = 0; i < n; i++) {
            assert_int_equal(prov_rx_push(&rx, &p_bytes[i], 1), PROV_OK);
        }
        free(p_bytes);
    }
    assert_int_equal(ctx.frames, (size_t)cJSON_GetArraySize(p_frames));
    assert_true(ctx.last.complete);
    assert_int_equal(ctx.last.payload_len, payload_len);
    assert_memory_equal(ctx.last.p_payload, p_payload, payload_len);
    free(p_payload);
}

/* ---- coverage of the vector files ----------------------------------------- */

static cJSON *g_frames;
static cJSON *g_messages;
static cJSON *g_chunks;

static void test_frames_cover_every_error(void **state)
{
    static const char *const errors[] = {"bad_char", "oversize", "bad_base64", "truncated", "bad_crc", "bad_version"};
    const cJSON *p_v = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        bool seen = false;
        cJSON_ArrayForEach(p_v, prov_test_vector_list(g_frames)) {
            const cJSON *p_e = NULL;
            cJSON_ArrayForEach(p_e, cJSON_GetObjectItemCaseSensitive(p_v, "expect")) {
                const cJSON *p_err = cJSON_GetObjectItemCaseSensitive(p_e, "error");
                seen = seen || (cJSON_IsString(p_err) && (strcmp(p_err->valuestring, errors[i]) == 0));
            }
        }
        if (!seen) {
            fail_msg("frames.json has no vector for error %s", errors[i]);
        }
    }
}

/* Runs fn once per vector of p_root, as a cmocka group named group. */
static int run_group(const char *p_group, cJSON *p_root, CMUnitTestFunction fn, CMUnitTestFunction extra)
{
    const cJSON *p_list = prov_test_vector_list(p_root);
    const cJSON *p_v = NULL;
    struct CMUnitTest *p_tests = NULL;
    size_t n = 0;
    int failed = 0;

    if ((p_list == NULL) || (cJSON_GetArraySize(p_list) == 0)) {
        printf("[  FAILED  ] 1 test(s), %s: no vectors (file missing or empty)\n", p_group);
        failed = 1;
    } else {
        p_tests = calloc((size_t)cJSON_GetArraySize(p_list) + 1u, sizeof(*p_tests));
        if (p_tests == NULL) {
            return 1;
        }
        if (extra != NULL) {
            p_tests[n].name = "covers every frame error";
            p_tests[n].test_func = extra;
            n++;
        }
        cJSON_ArrayForEach(p_v, p_list) {
            p_tests[n].name = prov_test_json_str(p_v, "name");
            p_tests[n].test_func = fn;
            p_tests[n].initial_state = (void *)p_v;
            n++;
        }
        failed = _cmocka_run_group_tests(p_group, p_tests, n, NULL, NULL);
        free(p_tests);
    }
    return failed;
}

int main(void)
{
    int failed = 0;

    g_frames = prov_test_load_vectors("frames.json");
    g_messages = prov_test_load_vectors("messages.json");
    g_chunks = prov_test_load_vectors("chunks.json");
    failed += run_group("frames.json", g_frames, test_frame_vector, test_frames_cover_every_error);
    failed += run_group("messages.json", g_messages, test_message_vector, NULL);
    failed += run_group("chunks.json", g_chunks, test_chunk_vector, NULL);
    cJSON_Delete(g_frames);
    cJSON_Delete(g_messages);
    cJSON_Delete(g_chunks);
    return (failed == 0) ? 0 : 1;
}
