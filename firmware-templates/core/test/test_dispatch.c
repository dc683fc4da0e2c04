/*
 * test_dispatch.c - every command of protocol.md 5.3 against the device core
 * with fake ports: state transitions, typed errors that leave the state as
 * it was, key/certificate match, rotation, lock, factory reset (GET_CSR:
 * test_get_csr.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "fake_ports.h"
#include "mbedtls/sha256.h"

static const fake_frame_t *generate_p256(void)
{
    const fake_frame_t *r = fake_generate(PROV_KEY_EC_P256, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    return r;
}

/* KEYED -> STAGED -> PROVISIONED with a matching certificate; returns COMMIT's response. */
static const fake_frame_t *provision(const char *thing)
{
    static char pem[4096];
    const fake_frame_t *gen = generate_p256();
    prov_tlv_writer_t *w = NULL;
    const fake_frame_t *r = NULL;

    cert_for_response(gen, pem, sizeof(pem));
    w = fake_tlv();
    fake_credentials(w, pem, thing);
    r = fake_req(PROV_MSG_WRITE_CREDENTIALS, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    r = fake_req(PROV_MSG_COMMIT, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    return r;
}

static void test_hello_reports_identity(void **state)
{
    const fake_frame_t *r = fake_req(PROV_MSG_HELLO, NULL);
    prov_tlv_field_t f;
    (void)state;
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    f = fake_field(r, 0x02);
    assert_memory_equal(f.p_value, "a0b1c2d3e4f5", 12);
    f = fake_field(r, 0x07);
    assert_int_equal(f.p_value[0], PROV_STATE_EMPTY);
    f = fake_field(r, 0x08);
    assert_int_equal((f.p_value[0] << 8) | f.p_value[1], PROV_DEVICE_MAX_FRAME);
    f = fake_field(r, 0x09);
    assert_int_equal(f.len, 12);
    f = fake_field(r, 0x06);
    assert_int_equal(f.p_value[0], PROV_STORE_FILE);
    /* the fake platform knows no build: the optional fields are left out */
    assert_false(fake_has_field(r, 0x0A));
    assert_false(fake_has_field(r, 0x0B));
}

static void test_hello_reports_the_build_when_the_port_knows_it(void **state)
{
    static const uint8_t sha[32] = {0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0x5A};
    prov_device_config_t cfg = fake_config();
    const fake_frame_t *r = NULL;
    prov_tlv_field_t f;
    (void)state;
    cfg.platform.build_version = "v1.2.3-product";
    cfg.platform.build_sha256 = sha;
    assert_int_equal(prov_device_init(&g_dev, &cfg), PROV_OK);
    assert_int_equal(prov_device_boot(&g_dev), PROV_OK);
    r = fake_req(PROV_MSG_HELLO, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    f = fake_field(r, 0x0A);
    assert_int_equal(f.len, strlen("v1.2.3-product"));
    assert_memory_equal(f.p_value, "v1.2.3-product", f.len);
    f = fake_field(r, 0x0B);
    assert_int_equal(f.len, 32);
    assert_memory_equal(f.p_value, sha, 32);
}

static void test_wrong_state_is_typed_and_changes_nothing(void **state)
{
    const fake_frame_t *r = NULL;
    (void)state;
    r = fake_req(PROV_MSG_GET_CSR, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_WRONG_STATE);
    assert_string_equal(fake_text(r), "GET_CSR not valid in state EMPTY: send GENERATE_KEY first");
    r = fake_req(PROV_MSG_COMMIT, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_WRONG_STATE);
    r = fake_req(PROV_MSG_LOCK, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_WRONG_STATE);
    assert_int_equal(fake_state(), PROV_STATE_EMPTY);
    assert_int_equal(g_generate_calls, 0);

    generate_p256();
    r = fake_req(PROV_MSG_COMMIT, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_WRONG_STATE);
    assert_string_equal(fake_text(r), "COMMIT not valid in state KEYED: send WRITE_CREDENTIALS first");
    assert_int_equal(fake_state(), PROV_STATE_KEYED);
    assert_int_equal(g_commit_calls, 0);
}

static void test_unknown_type(void **state)
{
    const fake_frame_t *r = fake_req(0x5A, NULL);
    (void)state;
    assert_int_equal(r->payload[0], PROV_CODE_ERR_UNKNOWN_TYPE);
}

static void test_generate_key_idempotent_and_typed(void **state)
{
    const fake_frame_t *r = NULL;
    uint8_t first[PROV_PUBKEY_DER_MAX];
    size_t first_len = 0;
    prov_tlv_field_t f;
    (void)state;

    r = generate_p256();
    assert_int_equal(fake_field(r, 0x04).p_value[0], 1); /* created */
    f = fake_field(r, 0x03);
    memcpy(first, f.p_value, f.len);
    first_len = f.len;
    assert_int_equal(fake_state(), PROV_STATE_KEYED);

    /* a new request (new seq) without force reports the same key, whatever type is asked */
    r = fake_generate(PROV_KEY_RSA_2048, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(fake_field(r, 0x04).p_value[0], 0);
    assert_int_equal(fake_field(r, 0x01).p_value[0], PROV_KEY_EC_P256);
    f = fake_field(r, 0x03);
    assert_memory_equal(f.p_value, first, first_len);
    assert_int_equal(g_generate_calls, 1);

    /* unsupported store */
    {
        prov_tlv_writer_t *w = fake_tlv();
        prov_tlv_put_u8(w, 1, PROV_KEY_EC_P256);
        prov_tlv_put_u8(w, 2, PROV_STORE_ATECC608);
        r = fake_req(PROV_MSG_GENERATE_KEY, w);
        assert_int_equal(r->payload[0], PROV_CODE_ERR_UNSUPPORTED);
    }
    /* unknown key type */
    r = fake_generate(9, 1);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_UNSUPPORTED);
    /* missing field */
    r = fake_req(PROV_MSG_GENERATE_KEY, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);
    assert_int_equal(g_generate_calls, 1);
    assert_int_equal(fake_state(), PROV_STATE_KEYED);

    /* force in KEYED replaces the key */
    r = fake_generate(PROV_KEY_EC_P384, 1);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(fake_field(r, 0x01).p_value[0], PROV_KEY_EC_P384);
    assert_int_equal(g_generate_calls, 2);
}

static void test_full_provisioning_and_status(void **state)
{
    const fake_frame_t *commit = NULL;
    const fake_frame_t *st = NULL;
    uint8_t set_digest[32];
    uint8_t expect[32];
    (void)state;

    commit = provision("thing-one");
    memcpy(set_digest, fake_field(commit, 0x01).p_value, 32);
    assert_int_equal(fake_field(commit, 0x03).p_value[3], 1); /* generation 1 */
    /* the set digest is SHA-256 of exactly the committed payload */
    prov_sha256(g_committed, g_committed_len, expect);
    assert_memory_equal(set_digest, expect, 32);

    st = fake_req(PROV_MSG_STATUS, NULL);
    assert_int_equal(fake_field(st, 0x07).p_value[0], PROV_STATE_PROVISIONED);
    assert_memory_equal(fake_field(st, 0x20).p_value, "thing-one", 9);
    assert_memory_equal(fake_field(st, 0x26).p_value, expect, 32);
    assert_false(fake_has_field(st, 0x27));
    assert_false(fake_has_field(st, 0x13));

    /* after a power cycle the app starts with the committed set */
    fake_reboot();
    assert_int_equal(g_app_starts, 1);
    assert_string_equal(g_app_thing, "thing-one");
    assert_int_equal(fake_state(), PROV_STATE_PROVISIONED);
}

static void test_certificate_for_other_key_is_key_mismatch(void **state)
{
    const fake_frame_t *r = NULL;
    char pem[4096];
    uint8_t other_spki[PROV_PUBKEY_DER_MAX];
    size_t other_len = 0;
    (void)state;

    /* a key that is not the device's: make it in the pending slot of the fake, copy, then drop it */
    assert_int_equal(ks_generate(NULL, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P256), PROV_STORAGE_OK);
    assert_int_equal(ks_public_key(NULL, PROV_KEY_SLOT_PENDING, other_spki, sizeof(other_spki), &other_len), 0);
    ks_destroy(NULL, PROV_KEY_SLOT_PENDING);
    generate_p256();
    issue_cert(other_spki, other_len, pem, sizeof(pem));
    {
        prov_tlv_writer_t *w = fake_tlv();
        fake_credentials(w, pem, "thing-x");
        r = fake_req(PROV_MSG_WRITE_CREDENTIALS, w);
        assert_int_equal(r->payload[0], PROV_CODE_OK);
    }
    assert_int_equal(fake_state(), PROV_STATE_STAGED);
    r = fake_req(PROV_MSG_COMMIT, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_KEY_MISMATCH);
    assert_int_equal(g_commit_calls, 0);
    assert_int_equal(fake_state(), PROV_STATE_STAGED);
    assert_false(g_has_committed);
}

static void test_write_credentials_validation(void **state)
{
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    (void)state;
    generate_p256();

    w = fake_tlv(); /* certificate that is not PEM */
    fake_credentials(w, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "t");
    r = fake_req(PROV_MSG_WRITE_CREDENTIALS, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_CERT);

    w = fake_tlv(); /* required field missing */
    prov_tlv_put_str(w, 0x01, "x");
    r = fake_req(PROV_MSG_WRITE_CREDENTIALS, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);

    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, 0, (const uint8_t *)"\x01\x00\x09" "ab", 5); /* overrun */
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);
    assert_int_equal(fake_state(), PROV_STATE_KEYED);
}

static void test_oversize_payload_is_too_large(void **state)
{
    uint8_t chunk[64];
    const fake_frame_t *r = NULL;
    (void)state;
    generate_p256();
    memset(chunk, 0, sizeof(chunk));
    chunk[4] = 0x00; chunk[5] = 0x00; chunk[6] = 0x20; chunk[7] = 0x01; /* total 8193 > 8192 */
    r = fake_send(PROV_MSG_WRITE_CREDENTIALS, g_seq++, PROV_FLAG_CHUNK, chunk, sizeof(chunk));
    assert_non_null(r);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_TOO_LARGE);
    /* a subject field over the limit */
    {
        char big[PROV_SUBJECT_FIELD_MAX + 2];
        prov_tlv_writer_t *w = fake_tlv();
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        prov_tlv_put_str(w, 0x06, big);
        r = fake_req(PROV_MSG_GET_CSR, w);
        assert_int_equal(r->payload[0], PROV_CODE_ERR_TOO_LARGE);
    }
    assert_int_equal(fake_state(), PROV_STATE_KEYED);
}

static void test_lock(void **state)
{
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    (void)state;
    provision("thing-lock");
    w = fake_tlv();
    prov_tlv_put_str(w, 1, "lock");
    r = fake_req(PROV_MSG_LOCK, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);
    w = fake_tlv();
    prov_tlv_put_str(w, 1, "LOCK");
    r = fake_req(PROV_MSG_LOCK, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(fake_state(), PROV_STATE_LOCKED);
    r = fake_generate(PROV_KEY_EC_P256, 1);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_LOCKED);
    r = fake_req(PROV_MSG_FACTORY_RESET, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_LOCKED);
    assert_int_equal(g_generate_calls, 1);
    fake_reboot(); /* the lock is persistent */
    assert_int_equal(fake_state(), PROV_STATE_LOCKED);
    r = fake_req(PROV_MSG_PING, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
}

/* FACTORY_RESET asks for a token, then the same request with the token (bit 0 flipped
 * by `flip`, sent `late_ms` after it was issued) confirms; *pp_w keeps the confirmation. */
static const fake_frame_t *factory_reset(uint8_t flip, uint32_t late_ms, prov_tlv_writer_t **pp_w)
{
    uint8_t token[8];
    const fake_frame_t *r = fake_req(PROV_MSG_FACTORY_RESET, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    memcpy(token, fake_field(r, 0x01).p_value, 8);
    token[0] ^= flip;
    g_now_ms += late_ms;
    *pp_w = fake_tlv();
    prov_tlv_put_bytes(*pp_w, 1, token, 8);
    return fake_req(PROV_MSG_FACTORY_RESET, *pp_w);
}

static void test_factory_reset_token(void **state)
{
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    (void)state;
    provision("thing-reset");

    r = factory_reset(1u, 0u, &w); /* wrong token */
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_TOKEN);
    assert_int_equal(fake_state(), PROV_STATE_PROVISIONED);

    r = factory_reset(0u, PROV_RESET_TOKEN_VALID_MS + 1u, &w); /* a fresh token, but 30 s late */
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_TOKEN);
    assert_int_equal(fake_state(), PROV_STATE_PROVISIONED);

    r = factory_reset(0u, 0u, &w); /* in time */
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(fake_state(), PROV_STATE_EMPTY);
    assert_false(g_has_committed);
    assert_int_equal(g_key_types[0], 0);
    /* used once */
    r = fake_req(PROV_MSG_FACTORY_RESET, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_TOKEN);
}

static void test_rotation_keeps_old_identity_until_commit(void **state)
{
    const fake_frame_t *r = NULL;
    uint8_t old_key_sha[32];
    char pem[4096];
    prov_tlv_writer_t *w = NULL;
    (void)state;
    provision("thing-rot");
    r = fake_req(PROV_MSG_STATUS, NULL);
    memcpy(old_key_sha, fake_field(r, 0x12).p_value, 32);

    r = fake_generate(PROV_KEY_EC_P256, 1); /* force in PROVISIONED: a pending key */
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    cert_for_response(r, pem, sizeof(pem));
    r = fake_req(PROV_MSG_STATUS, NULL);
    assert_int_equal(fake_field(r, 0x07).p_value[0], PROV_STATE_PROVISIONED);
    assert_memory_equal(fake_field(r, 0x12).p_value, old_key_sha, 32);
    assert_true(fake_has_field(r, 0x13));

    w = fake_tlv();
    fake_credentials(w, pem, "thing-rot");
    r = fake_req(PROV_MSG_WRITE_CREDENTIALS, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    r = fake_req(PROV_MSG_COMMIT, NULL);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    assert_int_equal(fake_field(r, 0x03).p_value[3], 2);
    r = fake_req(PROV_MSG_STATUS, NULL);
    assert_memory_not_equal(fake_field(r, 0x12).p_value, old_key_sha, 32);
    assert_false(fake_has_field(r, 0x13));
}

static void test_interrupted_rotation_finishes_at_boot(void **state)
{
    const fake_frame_t *r = NULL;
    char pem[4096];
    uint8_t pending_sha[32];
    prov_tlv_writer_t *w = NULL;
    (void)state;
    provision("thing-pl");
    r = fake_generate(PROV_KEY_EC_P256, 1);
    cert_for_response(r, pem, sizeof(pem));
    r = fake_req(PROV_MSG_STATUS, NULL);
    memcpy(pending_sha, fake_field(r, 0x13).p_value, 32);
    /* power loss after the set was committed but before the key was promoted */
    w = fake_tlv();
    fake_credentials(w, pem, "thing-pl");
    cs_stage(NULL, g_tlv_buf, prov_tlv_writer_len(w));
    {
        uint32_t gen = 0;
        cs_commit(NULL, &gen);
    }
    fake_reboot();
    r = fake_req(PROV_MSG_STATUS, NULL);
    assert_memory_equal(fake_field(r, 0x12).p_value, pending_sha, 32);
    assert_false(fake_has_field(r, 0x13));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hello_reports_identity, fake_setup),
        cmocka_unit_test_setup(test_hello_reports_the_build_when_the_port_knows_it, fake_setup),
        cmocka_unit_test_setup(test_wrong_state_is_typed_and_changes_nothing, fake_setup),
        cmocka_unit_test_setup(test_unknown_type, fake_setup),
        cmocka_unit_test_setup(test_generate_key_idempotent_and_typed, fake_setup),
        cmocka_unit_test_setup(test_full_provisioning_and_status, fake_setup),
        cmocka_unit_test_setup(test_certificate_for_other_key_is_key_mismatch, fake_setup),
        cmocka_unit_test_setup(test_write_credentials_validation, fake_setup),
        cmocka_unit_test_setup(test_oversize_payload_is_too_large, fake_setup),
        cmocka_unit_test_setup(test_lock, fake_setup),
        cmocka_unit_test_setup(test_factory_reset_token, fake_setup),
        cmocka_unit_test_setup(test_rotation_keeps_old_identity_until_commit, fake_setup),
        cmocka_unit_test_setup(test_interrupted_rotation_finishes_at_boot, fake_setup),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
