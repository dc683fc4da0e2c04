/*
 * fake_ports.h - the device core's ports as small static functions, for the
 * cmocka suites (coreMQTT style): a capturing transport, an in-RAM key store
 * that makes real mbedTLS keys (and counts how many), an in-RAM credential
 * store, a recording app and a settable clock. Plus a tiny "host" that
 * encodes requests, feeds them to the device and decodes what it wrote.
 * Include from exactly one test file per binary.
 */
#ifndef PROV_TEST_FAKE_PORTS_H
#define PROV_TEST_FAKE_PORTS_H

/* each suite uses a different subset of these helpers */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/ecp.h"
#include "mbedtls/rsa.h"
#include "mbedtls/x509_crt.h"
#include "prov/compat.h"
#include "prov/device.h"
#include "prov/tlv.h"

#include "fake_keystore.h"

/* ------------------------------------------------------------ transport */
static uint8_t g_out[65536];
static size_t g_out_len;
static uint32_t g_baud;
static int g_baud_sets;
static int g_drains;

static int t_write(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (g_out_len + n <= sizeof(g_out)) {
        memcpy(g_out + g_out_len, p, n);
        g_out_len += n;
    }
    return 0;
}
static int t_drain(void *ctx) { (void)ctx; g_drains++; return 0; }
static int t_set_baud(void *ctx, uint32_t baud) { (void)ctx; g_baud = baud; g_baud_sets++; return 0; }

/* ----------------------------------------------------- credential store */
static uint8_t g_staged[PROV_DEVICE_PAYLOAD_MAX];
static size_t g_staged_len;
static int g_has_staged;
static uint8_t g_committed[PROV_DEVICE_PAYLOAD_MAX];
static size_t g_committed_len;
static int g_has_committed;
static uint32_t g_generation;
static int g_locked;
static int g_commit_calls;

static int cs_stage(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (n > sizeof(g_staged)) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(g_staged, p, n);
    g_staged_len = n;
    g_has_staged = 1;
    return PROV_STORAGE_OK;
}
static int cs_discard(void *ctx) { (void)ctx; g_has_staged = 0; return PROV_STORAGE_OK; }
static int cs_commit(void *ctx, uint32_t *gen)
{
    (void)ctx;
    g_commit_calls++;
    if (!g_has_staged) {
        return PROV_STORAGE_NOT_FOUND;
    }
    memcpy(g_committed, g_staged, g_staged_len);
    g_committed_len = g_staged_len;
    g_has_committed = 1;
    g_has_staged = 0;
    *gen = ++g_generation;
    return PROV_STORAGE_OK;
}
static int cs_read(void *ctx, uint8_t *buf, size_t size, size_t *len, uint32_t *gen)
{
    (void)ctx;
    if (!g_has_committed) {
        return PROV_STORAGE_NOT_FOUND;
    }
    if (g_committed_len > size) {
        return PROV_STORAGE_TOO_LARGE;
    }
    memcpy(buf, g_committed, g_committed_len);
    *len = g_committed_len;
    *gen = g_generation;
    return PROV_STORAGE_OK;
}
static int cs_erase(void *ctx)
{
    (void)ctx;
    g_has_staged = 0;
    g_has_committed = 0;
    g_locked = 0;
    g_generation = 0;
    return PROV_STORAGE_OK;
}
static int cs_set_locked(void *ctx) { (void)ctx; g_locked = 1; return PROV_STORAGE_OK; }
static int cs_is_locked(void *ctx) { (void)ctx; return g_locked; }

/* ------------------------------------------------------------------ app */
static int g_app_starts;
static int g_app_stops;
static char g_app_thing[PROV_THING_NAME_MAX + 1];

static int app_start(void *ctx, const prov_credentials_t *c)
{
    (void)ctx;
    g_app_starts++;
    snprintf(g_app_thing, sizeof(g_app_thing), "%.*s", (int)c->thing_name.len, c->thing_name.ptr);
    return 0;
}
static void app_stop(void *ctx) { (void)ctx; g_app_stops++; }

/* ------------------------------------------------------------- platform */
static uint32_t g_now_ms;
static int g_restarts;
static uint32_t g_restart_delay;
static const uint32_t g_bauds[] = {115200u, 460800u, 921600u};

static uint32_t pf_millis(void *ctx) { (void)ctx; return g_now_ms; }
static int pf_random(void *ctx, unsigned char *out, size_t n) { (void)ctx; return mbedtls_ctr_drbg_random(&g_drbg, out, n); }
static void pf_restart(void *ctx, uint32_t delay) { (void)ctx; g_restarts++; g_restart_delay = delay; }

static prov_device_t g_dev;

static prov_device_config_t fake_config(void)
{
    prov_device_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.transport = (prov_transport_t){NULL, t_write, t_drain, t_set_baud};
    cfg.keystore = (prov_keystore_t){NULL, PROV_STORE_FILE, g_supported_types, 4u, ks_key_type, ks_generate,
                                     ks_public_key, ks_sign, ks_promote, ks_destroy};
    cfg.credstore = (prov_credstore_t){NULL, cs_stage, cs_discard, cs_commit, cs_read, cs_erase, cs_set_locked,
                                       cs_is_locked};
    cfg.app = (prov_app_t){NULL, app_start, app_stop};
    cfg.platform = (prov_platform_t){NULL, pf_millis, pf_random, pf_restart, "a0b1c2d3e4f5", "1.0.0-test", "test-board",
                                     g_bauds, 3u, NULL, NULL};
    cfg.baud_initial = 115200u;
    return cfg;
}

/* Wipe every fake store and boot a fresh device. */
static int fake_setup(void **state)
{
    prov_device_config_t cfg = fake_config();
    (void)state;
    fake_rng_init();
    ks_destroy(NULL, PROV_KEY_SLOT_ACTIVE);
    ks_destroy(NULL, PROV_KEY_SLOT_PENDING);
    cs_erase(NULL);
    g_out_len = 0;
    g_generate_calls = g_commit_calls = g_app_starts = g_app_stops = g_restarts = g_baud_sets = g_drains = 0;
    g_now_ms = 1000u;
    g_baud = 115200u;
    assert_int_equal(prov_device_init(&g_dev, &cfg), PROV_OK);
    assert_int_equal(prov_device_boot(&g_dev), PROV_OK);
    g_out_len = 0; /* drop the BOOT event: each test starts with a quiet line */
    return 0;
}

/* "Power cycle": a new device context over the same stores (staging in RAM is lost as on a chip). */
static void fake_reboot(void)
{
    prov_device_config_t cfg = fake_config();
    assert_int_equal(prov_device_init(&g_dev, &cfg), PROV_OK);
    assert_int_equal(prov_device_boot(&g_dev), PROV_OK);
}

/* ------------------------------------------------------------ host side */
typedef struct fake_frame {
    uint8_t type, flags;
    uint16_t seq;
    uint8_t payload[PROV_FRAME_BODY_MAX];
    size_t len;
} fake_frame_t;

static fake_frame_t g_frames[64];
static size_t g_n_frames;
static int g_rx_errors;

static void host_on_event(void *ctx, const prov_rx_event_t *ev)
{
    (void)ctx;
    if (ev->kind == PROV_RX_EVENT_FRAME && g_n_frames < 64u) {
        fake_frame_t *f = &g_frames[g_n_frames++];
        f->type = ev->frame.type;
        f->flags = ev->frame.flags;
        f->seq = ev->frame.seq;
        f->len = ev->frame.payload_len;
        memcpy(f->payload, ev->frame.p_payload, f->len);
    } else if (ev->kind == PROV_RX_EVENT_ERROR) {
        g_rx_errors++;
    }
}

/* Decode everything the device wrote since the last call into g_frames. */
static void fake_collect(void)
{
    static prov_rx_t rx;
    g_n_frames = 0;
    g_rx_errors = 0;
    assert_int_equal(prov_rx_init(&rx, host_on_event, NULL), PROV_OK);
    assert_int_equal(prov_rx_push(&rx, g_out, g_out_len), PROV_OK);
    assert_int_equal(g_rx_errors, 0);
    g_out_len = 0;
}

/* Send one request frame with raw payload and return the one response (NULL if none). */
static const fake_frame_t *fake_send(uint8_t type, uint16_t seq, uint8_t flags, const uint8_t *p, size_t n)
{
    uint8_t line[PROV_FRAME_LINE_BYTES_MAX];
    size_t line_len = 0;
    prov_frame_t frame = {PROV_PROTOCOL_VERSION, type, seq, flags, p, n};
    const fake_frame_t *resp = NULL;

    assert_int_equal(prov_frame_encode(&frame, line, sizeof(line), &line_len), PROV_OK);
    prov_device_feed(&g_dev, line, line_len);
    fake_collect();
    for (size_t i = 0; i < g_n_frames; i++) {
        if ((g_frames[i].flags & PROV_FLAG_RESPONSE) != 0u) {
            assert_null(resp); /* exactly one response per request */
            resp = &g_frames[i];
            assert_int_equal(resp->type, type);
            assert_int_equal(resp->seq, seq);
        }
    }
    return resp;
}

static uint16_t g_seq = 1;

/* Request with a TLV payload built by the caller; asserts a response came. */
static const fake_frame_t *fake_req(uint8_t type, const prov_tlv_writer_t *w)
{
    const fake_frame_t *r = fake_send(type, g_seq++, 0u, w ? w->p_buf : NULL, w ? prov_tlv_writer_len(w) : 0u);
    assert_non_null(r);
    assert_true(r->len >= 1u);
    return r;
}

/* Response field lookup (after the status byte). */
static prov_tlv_field_t fake_field(const fake_frame_t *r, uint8_t tag)
{
    prov_tlv_field_t f;
    assert_int_equal(prov_tlv_find(r->payload + 1, r->len - 1u, tag, &f), PROV_OK);
    return f;
}

static int fake_has_field(const fake_frame_t *r, uint8_t tag)
{
    prov_tlv_field_t f;
    return prov_tlv_find(r->payload + 1, r->len - 1u, tag, &f) == PROV_OK;
}

/* Error text of a response as a C string. */
static const char *fake_text(const fake_frame_t *r)
{
    static char text[200];
    prov_tlv_field_t f = fake_field(r, 0x01u);
    snprintf(text, sizeof(text), "%.*s", (int)f.len, (const char *)f.p_value);
    return text;
}

static uint8_t g_tlv_buf[PROV_DEVICE_PAYLOAD_MAX + 64];
static prov_tlv_writer_t *fake_tlv(void)
{
    static prov_tlv_writer_t w;
    prov_tlv_writer_init(&w, g_tlv_buf, sizeof(g_tlv_buf));
    return &w;
}

/* GENERATE_KEY(type, store FILE, force) -> response */
static const fake_frame_t *fake_generate(uint8_t type, uint8_t force)
{
    prov_tlv_writer_t *w = fake_tlv();
    prov_tlv_put_u8(w, 1, type);
    prov_tlv_put_u8(w, 2, PROV_STORE_FILE);
    if (force) {
        prov_tlv_put_u8(w, 3, 1);
    }
    return fake_req(PROV_MSG_GENERATE_KEY, w);
}

static uint8_t fake_state(void)
{
    const fake_frame_t *r = fake_req(PROV_MSG_STATUS, NULL);
    prov_tlv_field_t f = fake_field(r, 0x07);
    return f.p_value[0];
}

/* ------------------------------------------------- certificates (a test CA) */
static mbedtls_pk_context g_ca_key;
static char g_ca_pem[4096];
static int g_ca_ready;

static void ca_init(void)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    if (g_ca_ready) {
        return;
    }
    fake_rng_init();
    mbedtls_pk_init(&g_ca_key);
    assert_int_equal(mbedtls_pk_setup(&g_ca_key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(g_ca_key), mbedtls_ctr_drbg_random,
                                         &g_drbg), 0);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, 1);
    mbedtls_x509write_crt_set_subject_key(&w, &g_ca_key);
    mbedtls_x509write_crt_set_issuer_key(&w, &g_ca_key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=Test Root"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, "CN=Test Root"), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20240101000000", "20491231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1), 0);
    assert_int_equal(mbedtls_x509write_crt_pem(&w, (unsigned char *)g_ca_pem, sizeof(g_ca_pem),
                                               mbedtls_ctr_drbg_random, &g_drbg), 0);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    g_ca_ready = 1;
}

/* A certificate from the test CA for the public key spki (DER). */
static void issue_cert(const uint8_t *spki, size_t spki_len, char *pem, size_t pem_size)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_pk_context pub;
    ca_init();
    mbedtls_pk_init(&pub);
    assert_int_equal(mbedtls_pk_parse_public_key(&pub, spki, spki_len), 0);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, 2);
    mbedtls_x509write_crt_set_subject_key(&w, &pub);
    mbedtls_x509write_crt_set_issuer_key(&w, &g_ca_key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=device"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, "CN=Test Root"), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20240101000000", "20491231235959"), 0);
    assert_int_equal(mbedtls_x509write_crt_pem(&w, (unsigned char *)pem, pem_size, mbedtls_ctr_drbg_random, &g_drbg),
                     0);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    mbedtls_pk_free(&pub);
}

/* A complete WRITE_CREDENTIALS payload for certificate cert_pem. */
static size_t fake_credentials(prov_tlv_writer_t *w, const char *cert_pem, const char *thing)
{
    ca_init();
    prov_tlv_put_str(w, 0x01, cert_pem);
    prov_tlv_put_str(w, 0x02, g_ca_pem);
    prov_tlv_put_str(w, 0x03, "127.0.0.1");
    prov_tlv_put_u16(w, 0x04, 8883);
    prov_tlv_put_str(w, 0x05, thing);
    prov_tlv_put_str(w, 0x06, "things/test/counter");
    prov_tlv_put_u32(w, 0x07, 5000);
    assert_int_equal(prov_tlv_writer_status(w), PROV_OK);
    return prov_tlv_writer_len(w);
}

/* Certificate for the key the device reported in a GENERATE_KEY response. */
static void cert_for_response(const fake_frame_t *gen, char *pem, size_t pem_size)
{
    prov_tlv_field_t spki = fake_field(gen, 0x03);
    issue_cert(spki.p_value, spki.len, pem, pem_size);
}

static int prov_sha256_adapter_for_test(const uint8_t *p, size_t n, uint8_t out[32])
{
    return prov_sha256(p, n, out);
}

#endif /* PROV_TEST_FAKE_PORTS_H */
