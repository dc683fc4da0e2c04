/*
 * device.h - the device side of protocol v1: dispatcher + state machine over
 * the port interfaces (transport, key store, credential store, app,
 * platform). One prov_device_t per link; statically allocatable (about
 * 26 KB with the default config: two PAYLOAD_MAX buffers and two frame
 * lines); no heap use of its own (mbedTLS parsing of certificates allocates
 * through mbedTLS's own calloc).
 *
 * Threading: every prov_device_* call for one device must come from one task
 * (or be serialised by the port). The app's MQTT task hands its events over
 * to that task (queue or pipe) instead of calling prov_device_event() itself.
 *
 * Typical port loop:
 *   prov_device_init(&dev, &config);
 *   prov_device_boot(&dev);
 *   for (;;) { n = uart_read(buf, 20 ms); prov_device_feed(&dev, buf, n); prov_device_poll(&dev); }
 */
#ifndef PROV_DEVICE_H
#define PROV_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov/app.h"
#include "prov/chunk.h"
#include "prov/codes.h"
#include "prov/config.h"
#include "prov/credstore.h"
#include "prov/frame.h"
#include "prov/keystore.h"
#include "prov/platform.h"
#include "prov/transport.h"

#if PROV_DEVICE_MAX_FRAME > PROV_FRAME_BODY_MAX || PROV_DEVICE_MAX_FRAME < 256
#error "PROV_DEVICE_MAX_FRAME must be within 256..PROV_FRAME_BODY_MAX"
#endif

/* The ports the core runs on. Copied by prov_device_init(). */
typedef struct prov_device_config {
    prov_transport_t transport;
    prov_keystore_t keystore;
    prov_credstore_t credstore;
    prov_app_t app;
    prov_platform_t platform;
    uint32_t baud_initial; /* rate the UART runs at after boot (SET_BAUD reverts to the previous rate) */
} prov_device_config_t;

/* Everything the core knows; treat as opaque (public only so it can be static). */
typedef struct prov_device {
    prov_device_config_t cfg;
    prov_rx_t rx;
    prov_chunk_rx_t chunks;
    bool booted;
    bool halted; /* RESTART answered: ignore input until the next boot */

    /* what the stores hold (refreshed after every change) */
    bool has_key, has_pending, has_committed, has_staged, locked;
    uint8_t key_type, pending_type;
    uint8_t key_sha256[32], pending_sha256[32]; /* SHA-256 of the SPKI DER as the key store gives it */

    /* committed set summary for STATUS */
    char thing_name[PROV_THING_NAME_MAX + 1u];
    char endpoint[PROV_ENDPOINT_MAX + 1u];
    char topic[PROV_TOPIC_MAX + 1u];
    uint16_t port;
    uint32_t generation;
    uint8_t cert_sha256[32], set_sha256[32];
    uint8_t cert_key_sha256[32]; /* canonical SPKI digest of the committed certificate's key */

    /* staged set summary */
    uint32_t staged_len;
    uint8_t staged_sha256[32], staged_cert_sha256[32], staged_cert_key_sha256[32];

    /* duplicate suppression: last (type, seq) and the exact line sent */
    bool cache_valid;
    uint8_t cache_type;
    uint16_t cache_seq;
    size_t cache_len;
    uint8_t cache_line[PROV_FRAME_LINE_BYTES_MAX];

    /* SET_BAUD confirm-or-revert */
    uint32_t baud_current;
    uint32_t baud_previous;
    bool baud_unconfirmed;
    uint32_t baud_switched_ms;

    /* FACTORY_RESET token */
    bool token_valid;
    uint8_t token[8];
    uint32_t token_issued_ms;

    uint16_t event_seq;
    bool app_running;
    uint32_t frames_bad;

    uint8_t reassembly[PROV_DEVICE_PAYLOAD_MAX];
    uint8_t work[PROV_DEVICE_PAYLOAD_MAX + 1u]; /* PEM parsing (needs a NUL), committed set reads, CSR */
    uint8_t response[PROV_DEVICE_MAX_FRAME];
    uint8_t event_line[PROV_FRAME_LINE_BYTES_FOR(300)];
} prov_device_t;

/* Copy the config and reset everything. Returns PROV_OK or PROV_ERR_BAD_PARAM (missing function pointer). */
prov_status_t prov_device_init(prov_device_t *p_dev, const prov_device_config_t *p_cfg);

/*
 * Boot: discard staging, read the stores, finish an interrupted key
 * rotation (committed certificate matches the pending key -> promote it),
 * send EVENT BOOT and start the app when a set is committed. Call after
 * init and after every restart. Returns PROV_OK, or PROV_ERR_CRYPTO when a
 * store could not be read (the device still answers HELLO/STATUS).
 */
prov_status_t prov_device_boot(prov_device_t *p_dev);

/* Bytes received from the host (any split). Frames are handled before this returns. */
void prov_device_feed(prov_device_t *p_dev, const uint8_t *p_data, size_t len);

/* One decoded request frame (for ports that run their own receiver). */
void prov_device_handle_frame(prov_device_t *p_dev, const prov_frame_t *p_frame);

/* Timers (baud revert). Call at least every 50 ms. */
void prov_device_poll(prov_device_t *p_dev);

/* Send an EVENT frame (codes PROV_EVENT_*). text may be NULL; value is sent when has_value. */
void prov_device_event(prov_device_t *p_dev, uint8_t code, const char *p_text, bool has_value, uint32_t value);

/* Current state (derived from the stores). */
prov_state_t prov_device_state(const prov_device_t *p_dev);

#endif /* PROV_DEVICE_H */
