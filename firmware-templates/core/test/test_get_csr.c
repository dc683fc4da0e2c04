/*
 * test_get_csr.c - GET_CSR against the device core with fake ports: the
 * subject as sent (UTF-8 as UTF8String, checked by OpenSSL, which also
 * verifies the signature), for EC P-256 and RSA-2048; a bad subject and a
 * CSR too large for its buffer are typed errors that say why.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "fake_ports.h"

static void generate_p256(void)
{
    const fake_frame_t *r = fake_generate(PROV_KEY_EC_P256, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
}

/* GET_CSR with a UTF-8 subject; OpenSSL must verify it and read the subject back as UTF8String. */
static void csr_roundtrip(uint8_t key_type)
{
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    prov_tlv_field_t csr;
    char path[] = "/tmp/prov-csr-XXXXXX";
    char cmd[512];
    char out[1024] = {0};
    FILE *fp = NULL;
    int fd = -1;

    r = fake_generate(key_type, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    w = fake_tlv();
    prov_tlv_put_str(w, 1, "JP");
    prov_tlv_put_str(w, 2, "Tokyo");
    prov_tlv_put_str(w, 3, "Chiyoda");
    prov_tlv_put_str(w, 4, "株式会社テスト");
    prov_tlv_put_str(w, 5, "R&D, Devices");
    prov_tlv_put_str(w, 6, "a0b1c2d3e4f5");
    r = fake_req(PROV_MSG_GET_CSR, w);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    csr = fake_field(r, 0x01);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, csr.p_value, csr.len), (ssize_t)csr.len);
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "openssl req -inform DER -in %s -verify -noout -subject -nameopt utf8,sep_comma_plus_space 2>&1; "
             "openssl asn1parse -inform DER -in %s | grep -c UTF8STRING",
             path, path);
    fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, sizeof(out) - 1, fp);
    out[n] = 0;
    pclose(fp);
    unlink(path);
    if (strstr(out, "verify OK") == NULL && strstr(out, "Certificate request self-signature verify OK") == NULL) {
        fail_msg("openssl did not verify the CSR: %s", out);
    }
    if (strstr(out, "O=株式会社テスト, ") == NULL || strstr(out, "OU=R&D, Devices, CN=a0b1c2d3e4f5") == NULL ||
        strstr(out, "subject=C=JP, ST=Tokyo, L=Chiyoda") == NULL) {
        fail_msg("subject not as sent: %s", out);
    }
    assert_non_null(strstr(out, "\n5\n")); /* ST, L, O, OU, CN as UTF8String; C is PrintableString */
}

static void test_csr_p256_utf8_subject(void **state) { (void)state; csr_roundtrip(PROV_KEY_EC_P256); }
static void test_csr_rsa2048(void **state) { (void)state; csr_roundtrip(PROV_KEY_RSA_2048); }

static void test_csr_rejects_bad_subject(void **state)
{
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    (void)state;
    generate_p256();
    w = fake_tlv();
    prov_tlv_put_str(w, 1, "JPN");
    r = fake_req(PROV_MSG_GET_CSR, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);
    w = fake_tlv();
    prov_tlv_put(w, 4, (const uint8_t *)"\xff\xfe", 2); /* not UTF-8 */
    r = fake_req(PROV_MSG_GET_CSR, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_BAD_PAYLOAD);
}

/* Fields within the per-field limit whose CSR does not fit PROV_CSR_DER_MAX: the text must say so. */
static void test_csr_too_large_says_why(void **state)
{
    static char big[PROV_SUBJECT_FIELD_MAX + 1];
    const fake_frame_t *r = NULL;
    prov_tlv_writer_t *w = NULL;
    (void)state;
    r = fake_generate(PROV_KEY_RSA_2048, 0);
    assert_int_equal(r->payload[0], PROV_CODE_OK);
    memset(big, 'a', PROV_SUBJECT_FIELD_MAX);
    big[PROV_SUBJECT_FIELD_MAX] = 0;
    w = fake_tlv();
    prov_tlv_put_str(w, 1, "US");
    for (uint8_t tag = 2; tag <= 6; tag++) {
        prov_tlv_put_str(w, tag, big);
    }
    r = fake_req(PROV_MSG_GET_CSR, w);
    assert_int_equal(r->payload[0], PROV_CODE_ERR_TOO_LARGE);
    assert_string_equal(fake_text(r), "CSR longer than 1900 bytes: shorten the subject");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_csr_p256_utf8_subject, fake_setup),
        cmocka_unit_test_setup(test_csr_rsa2048, fake_setup),
        cmocka_unit_test_setup(test_csr_rejects_bad_subject, fake_setup),
        cmocka_unit_test_setup(test_csr_too_large_says_why, fake_setup),
    };
    return cmocka_run_group_tests_name("get_csr", tests, NULL, NULL);
}
