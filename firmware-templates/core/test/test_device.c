/*
 * test_device.c - the link half of the device core: duplicate suppression,
 * chunk reassembly, ERR_VERSION for other protocol versions, SET_BAUD
 * confirm-or-revert, RESTART, EVENT frames, log noise on the line.
 */
#include "fake_ports.h"

static void test_retried_generate_key_makes_no_second_key(void **state)
{
    uint8_t payload[16];
    prov_tlv_writer_t w;
    const fake_frame_t *r = NULL;
    uint8_t first[PROV_FRAME_BODY_MAX];
    size_t first_len = 0;
    (void)state;

    prov_tlv_writer_init(&w, payload, sizeof(payload));
    prov_tlv_put_u8(&w, 1, PROV_KEY_EC_P256);
    prov_tlv_put_u8(&w, 2, PROV_STORE_FILE);
    r = fake_send(PROV_MSG_GENERATE_KEY, 42, 0, payload, prov_tlv_writer_len(&w));
    assert_non_null(r);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    memcpy(first, r->payload, r->len);
    first_len = r->len;
    assert_int_equal(g_generate_calls, 1);

    /* the host did not see the answer and retries: same frame, same seq */
    r = fake_send(PROV_MSG_GENERATE_KEY, 42, 0, payload, prov_tlv_writer_len(&w));
    assert_non_null(r);
    assert_int_equal(r->len, first_len);
    assert_memory_equal(r->payload, first, first_len);
    assert_int_equal(g_generate_calls, 1);

    /* even with force set in the retry: a duplicate is never executed */
    prov_tlv_put_u8(&w, 3, 1);
    r = fake_send(PROV_MSG_GENERATE_KEY, 42, 0, payload, prov_tlv_writer_len(&w));
    assert_int_equal(g_generate_calls, 1);
    /* a new seq is a new request */
    r = fake_send(PROV_MSG_GENERATE_KEY, 43, 0, payload, prov_tlv_writer_len(&w));
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(g_generate_calls, 2);
}

static void test_read_only_requests_keep_the_remembered_request(void **state)
{
    uint8_t payload[16];
    prov_tlv_writer_t w;
    const fake_frame_t *r = NULL;
    uint8_t line[64];
    size_t line_len = 0;
    prov_frame_t v2 = {2, PROV_MSG_STATUS, 99, 0, NULL, 0};
    (void)state;

    prov_tlv_writer_init(&w, payload, sizeof(payload));
    prov_tlv_put_u8(&w, 1, PROV_KEY_EC_P256);
    prov_tlv_put_u8(&w, 2, PROV_STORE_FILE);
    prov_tlv_put_u8(&w, 3, 1);
    r = fake_send(PROV_MSG_GENERATE_KEY, 42, 0, payload, prov_tlv_writer_len(&w));
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(g_generate_calls, 1);

    /* protocol 6: STATUS and PING "do not replace the remembered request", nor does an ERR_VERSION answer */
    r = fake_send(PROV_MSG_STATUS, 43, 0, NULL, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    r = fake_send(PROV_MSG_PING, 44, 0, NULL, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(prov_frame_encode(&v2, line, sizeof(line), &line_len), PROV_OK);
    prov_device_feed(&g_dev, line, line_len);
    fake_collect();

    /* the forced GENERATE_KEY's retry is still a duplicate: no second key */
    r = fake_send(PROV_MSG_GENERATE_KEY, 42, 0, payload, prov_tlv_writer_len(&w));
    assert_non_null(r);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(g_generate_calls, 1);
}

/* An answer that fits the response buffer but not one frame of max_frame must still be answered. */
static void test_answer_too_large_for_a_frame_is_an_error_not_silence(void **state)
{
    static char board[2100];
    const fake_frame_t *r = NULL;
    (void)state;
    /* HELLO's fields other than the board id take 71 bytes with the fake platform: 71 + 1973 = 2044 */
    memset(board, 'b', 1973u);
    board[1973] = '\0';
    g_dev.cfg.platform.board_id = board;
    r = fake_send(PROV_MSG_HELLO, 1, 0, NULL, 0);
    assert_non_null(r);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_INTERNAL);
    assert_true(r->len + PROV_FRAME_OVERHEAD_BYTES <= PROV_DEVICE_MAX_FRAME);
    /* 71 + 1968 = 2039 = max_frame - 9: the largest answer that fits is still sent */
    board[1968] = '\0';
    r = fake_send(PROV_MSG_HELLO, 2, 0, NULL, 0);
    assert_non_null(r);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(r->len + PROV_FRAME_OVERHEAD_BYTES, PROV_DEVICE_MAX_FRAME);
}

static void test_read_only_requests_answer_fresh_state(void **state)
{
    const fake_frame_t *r = NULL;
    (void)state;
    r = fake_send(PROV_MSG_STATUS, 7, 0, NULL, 0);
    assert_int_equal(fake_field(r, 0x07).p_value[0], PROV_STATE_EMPTY);
    (void)fake_generate(PROV_KEY_EC_P256, 0);
    r = fake_send(PROV_MSG_STATUS, 7, 0, NULL, 0);
    {
        prov_tlv_field_t f = fake_field(r, 0x07);
        assert_int_equal(f.p_value[0], PROV_STATE_KEYED);
    }
}

/* Send payload as CHUNK frames of at most max_body; returns the final response. */
static const fake_frame_t *send_chunked(uint8_t type, const uint8_t *payload, size_t len, size_t max_body,
                                        int retry_each)
{
    prov_chunk_tx_t tx;
    uint8_t chunk[PROV_FRAME_BODY_MAX];
    size_t chunk_len = 0;
    const fake_frame_t *r = NULL;

    assert_int_equal(prov_chunk_tx_init(&tx, payload, len, max_body, prov_sha256_adapter_for_test), PROV_OK);
    while (prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len) == PROV_OK) {
        uint16_t seq = g_seq++;
        r = fake_send(type, seq, PROV_FLAG_CHUNK, chunk, chunk_len);
        assert_non_null(r);
        if (retry_each) {
            r = fake_send(type, seq, PROV_FLAG_CHUNK, chunk, chunk_len);
            assert_non_null(r);
        }
        if (r->payload[0] != PROV_CODE_OK) {
            break;
        }
    }
    return r;
}

static void chunked_write(int retry_each)
{
    char pem[4096];
    const fake_frame_t *gen = fake_generate(PROV_KEY_EC_P256, 0);
    prov_tlv_writer_t *w = fake_tlv();
    const fake_frame_t *r = NULL;
    size_t len = 0;
    uint8_t digest[32];

    cert_for_response(gen, pem, sizeof(pem));
    len = fake_credentials(w, pem, "chunky");
    r = send_chunked(PROV_MSG_WRITE_CREDENTIALS, g_tlv_buf, len, 256, retry_each);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(r->flags, PROV_FLAG_RESPONSE); /* the last answer is the request's own response */
    prov_sha256_adapter_for_test(g_tlv_buf, len, digest);
    assert_memory_equal(fake_field(r, 0x02).p_value, digest, 32);
    assert_int_equal(g_staged_len, len);
    assert_memory_equal(g_staged, g_tlv_buf, len);
}

static void test_chunked_write_credentials(void **state) { (void)state; chunked_write(0); }
static void test_retried_chunks_are_not_appended_twice(void **state) { (void)state; chunked_write(1); }

static void test_chunk_progress_and_errors(void **state)
{
    uint8_t payload[600];
    prov_chunk_tx_t tx;
    uint8_t chunk[PROV_FRAME_BODY_MAX];
    size_t chunk_len = 0;
    const fake_frame_t *r = NULL;
    (void)state;
    (void)fake_generate(PROV_KEY_EC_P256, 0);
    memset(payload, 0x41, sizeof(payload));

    assert_int_equal(prov_chunk_tx_init(&tx, payload, sizeof(payload), 256, prov_sha256_adapter_for_test), PROV_OK);
    assert_int_equal(prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len), PROV_OK);
    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, PROV_FLAG_CHUNK, chunk, chunk_len);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(r->flags, PROV_FLAG_RESPONSE | PROV_FLAG_CHUNK);
    {
        prov_tlv_field_t f = fake_field(r, 0x01);
        uint32_t got = ((uint32_t)f.p_value[0] << 24) | ((uint32_t)f.p_value[1] << 16) |
                       ((uint32_t)f.p_value[2] << 8) | f.p_value[3];
        assert_int_equal(got, chunk_len - 40u);
    }
    /* skip one chunk: out of order */
    assert_int_equal(prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len), PROV_OK);
    assert_int_equal(prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len), PROV_OK);
    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, PROV_FLAG_CHUNK, chunk, chunk_len);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_CHUNK);

    /* wrong digest: flip a digest byte of the first chunk */
    assert_int_equal(prov_chunk_tx_init(&tx, payload, 100, 256, prov_sha256_adapter_for_test), PROV_OK);
    assert_int_equal(prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len), PROV_OK);
    chunk[8] ^= 0xFFu;
    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, PROV_FLAG_CHUNK, chunk, chunk_len);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_DIGEST);
    assert_int_equal(fake_state(), PROV_STATE_KEYED);
}

static void test_chunks_in_wrong_state_refused_at_first_chunk(void **state)
{
    uint8_t payload[300];
    prov_chunk_tx_t tx;
    uint8_t chunk[PROV_FRAME_BODY_MAX];
    size_t chunk_len = 0;
    const fake_frame_t *r = NULL;
    (void)state;
    memset(payload, 1, sizeof(payload));
    assert_int_equal(prov_chunk_tx_init(&tx, payload, sizeof(payload), 256, prov_sha256_adapter_for_test), PROV_OK);
    assert_int_equal(prov_chunk_tx_next(&tx, chunk, sizeof(chunk), &chunk_len), PROV_OK);
    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, PROV_FLAG_CHUNK, chunk, chunk_len);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_WRONG_STATE);
    assert_string_equal(fake_text(r), "WRITE_CREDENTIALS not valid in state EMPTY: send GENERATE_KEY first");
}

static void test_bad_version_answers_err_version(void **state)
{
    uint8_t line[64];
    size_t line_len = 0;
    prov_frame_t frame = {2, PROV_MSG_HELLO, 9, 0, NULL, 0};
    (void)state;
    assert_int_equal(prov_frame_encode(&frame, line, sizeof(line), &line_len), PROV_OK);
    prov_device_feed(&g_dev, line, line_len);
    fake_collect();
    assert_int_equal(g_n_frames, 1);
    assert_int_equal(g_frames[0].type, PROV_MSG_HELLO);
    assert_int_equal(g_frames[0].seq, 9);
    assert_int_equal(g_frames[0].flags, PROV_FLAG_RESPONSE);
    assert_int_equal(g_frames[0].payload[0], PROV_CODE_ERR_VERSION);
}

static void test_log_noise_and_garbage_do_not_disturb(void **state)
{
    const char noise[] = "I (123) boot: hello\r\n\x1e!!!garbage\nets Jun  8 2016 00:22:57\n";
    const fake_frame_t *r = NULL;
    (void)state;
    prov_device_feed(&g_dev, (const uint8_t *)noise, sizeof(noise) - 1);
    fake_collect();
    assert_int_equal(g_n_frames, 0);
    r = fake_req(PROV_MSG_PING, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
}

static void test_set_baud_confirm_and_revert(void **state)
{
    prov_tlv_writer_t *w = fake_tlv();
    const fake_frame_t *r = NULL;
    (void)state;

    prov_tlv_put_u32(w, 1, 300u);
    r = fake_req(PROV_MSG_SET_BAUD, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_BAUD);
    assert_int_equal(g_baud_sets, 0);

    w = fake_tlv();
    prov_tlv_put_u32(w, 1, 921600u);
    r = fake_req(PROV_MSG_SET_BAUD, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(g_baud, 921600u);
    assert_true(g_drains >= 1); /* the answer left at the old rate first */
    /* host confirms with a PING within 1500 ms: no revert */
    g_now_ms += 1000u;
    prov_device_poll(&g_dev);
    r = fake_req(PROV_MSG_PING, NULL);
    g_now_ms += 5000u;
    prov_device_poll(&g_dev);
    assert_int_equal(g_baud, 921600u);

    /* switch again and stay silent: back to 921600's predecessor after 1500 ms */
    w = fake_tlv();
    prov_tlv_put_u32(w, 1, 460800u);
    r = fake_req(PROV_MSG_SET_BAUD, w);
    assert_int_equal(g_baud, 460800u);
    g_now_ms += PROV_BAUD_CONFIRM_MS - 1u;
    prov_device_poll(&g_dev);
    assert_int_equal(g_baud, 460800u);
    g_now_ms += 2u;
    prov_device_poll(&g_dev);
    assert_int_equal(g_baud, 921600u);
}

static void test_restart_answers_then_halts(void **state)
{
    prov_tlv_writer_t *w = fake_tlv();
    const fake_frame_t *r = NULL;
    (void)state;
    prov_tlv_put_u16(w, 1, 250u);
    r = fake_req(PROV_MSG_RESTART, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(g_restarts, 1);
    assert_int_equal(g_restart_delay, 250u);
    /* until the next boot the device does not answer */
    r = fake_send(PROV_MSG_PING, g_seq++, 0, NULL, 0);
    assert_null(r);
    fake_reboot();
    fake_collect();
    r = fake_req(PROV_MSG_PING, NULL);
    assert_non_null(r);
}

static void test_boot_event_and_app_events(void **state)
{
    (void)state;
    fake_reboot();
    fake_collect();
    assert_int_equal(g_n_frames, 1);
    assert_int_equal(g_frames[0].type, PROV_MSG_EVENT);
    assert_int_equal(g_frames[0].flags, 0);
    assert_int_equal(g_frames[0].payload[3], PROV_EVENT_BOOT); /* tag 1, len 0x0001, code */
    prov_device_event(&g_dev, PROV_EVENT_PUBLISHED, NULL, true, 7u);
    fake_collect();
    assert_int_equal(g_n_frames, 1);
    {
        prov_tlv_field_t f;
        assert_int_equal(prov_tlv_find(g_frames[0].payload, g_frames[0].len, 0x03, &f), PROV_OK);
        assert_int_equal(f.p_value[3], 7);
        assert_int_equal(prov_tlv_find(g_frames[0].payload, g_frames[0].len, 0x02, &f), PROV_ERR_NOT_FOUND);
    }
    assert_int_equal(g_frames[0].seq, 2); /* the device's own event counter */
}

static void test_responses_from_host_are_ignored(void **state)
{
    (void)state;
    assert_null(fake_send(PROV_MSG_PING, 5, PROV_FLAG_RESPONSE, NULL, 0));
    assert_null(fake_send(PROV_MSG_EVENT, 5, 0, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_retried_generate_key_makes_no_second_key, fake_setup),
        cmocka_unit_test_setup(test_read_only_requests_answer_fresh_state, fake_setup),
        cmocka_unit_test_setup(test_answer_too_large_for_a_frame_is_an_error_not_silence, fake_setup),
        cmocka_unit_test_setup(test_read_only_requests_keep_the_remembered_request, fake_setup),
        cmocka_unit_test_setup(test_chunked_write_credentials, fake_setup),
        cmocka_unit_test_setup(test_retried_chunks_are_not_appended_twice, fake_setup),
        cmocka_unit_test_setup(test_chunk_progress_and_errors, fake_setup),
        cmocka_unit_test_setup(test_chunks_in_wrong_state_refused_at_first_chunk, fake_setup),
        cmocka_unit_test_setup(test_bad_version_answers_err_version, fake_setup),
        cmocka_unit_test_setup(test_log_noise_and_garbage_do_not_disturb, fake_setup),
        cmocka_unit_test_setup(test_set_baud_confirm_and_revert, fake_setup),
        cmocka_unit_test_setup(test_restart_answers_then_halts, fake_setup),
        cmocka_unit_test_setup(test_boot_event_and_app_events, fake_setup),
        cmocka_unit_test_setup(test_responses_from_host_are_ignored, fake_setup),
    };
    return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
