/*
 * port.h - what the ESP-IDF port's modules share with each other (never with
 * the host): the console transport, the platform services, the key
 * generation task, the one key store and credential store of this build,
 * and the counter application.
 *
 * Written against ESP-IDF v5.1+ (mbedTLS 3.x). Not compiled on the
 * development host: docs/firmware.md says how it is checked.
 */
#ifndef PROV_PORT_H
#define PROV_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board_config.h"
#include "prov/app.h"
#include "prov/credstore.h"
#include "prov/keystore.h"
#include "prov/platform.h"
#include "prov/transport.h"

/* ---- console transport (transport_uart.c or transport_usb_serial_jtag.c) ---- */

/*
 * Install the console driver, route ESP-IDF logging through the same lock
 * as frame writes (esp_log_set_vprintf), fill *p_out. Returns 0 or negative.
 */
int prov_port_transport_init(prov_transport_t *p_out);

/* Read up to cap received bytes, waiting at most timeout_ms. Returns the count (0 on timeout). */
size_t prov_port_transport_read(uint8_t *p_buf, size_t cap, uint32_t timeout_ms);

/* ---- platform (platform_esp.c) ---- */

/* Fill *p_out: millis, random, restart, device id (base MAC), versions, baud list. */
void prov_port_platform_init(prov_platform_t *p_out);

/*
 * The port's mbedTLS random generator (CTR-DRBG seeded from the hardware
 * RNG), for key generation and signing blinding. Same shape as f_rng.
 */
int prov_port_rng(void *p_ctx, unsigned char *p_out, size_t len);

/* ---- key generation task (keygen_task.c) ---- */

/*
 * Run fn(arg) in its own task at idle priority and wait for it: RSA
 * generation takes seconds (over 10 s on an ESP32) and must neither trip the
 * task watchdog nor block the idle task. Enables the SAR ADC entropy source
 * (bootloader_random_enable) for the duration when Wi-Fi is not running,
 * because the hardware RNG is only truly random with RF or that source on.
 * Returns what fn returned, or PROV_STORAGE_IO if the task could not start.
 */
int prov_port_keygen_run(int (*fn)(void *arg), void *arg);

/* ---- the key store of this build (keystore_nvs.c / keystore_ds.c / keystore_atecc608.c) ---- */

/* Fill *p_out with the key store functions. Returns 0 or negative (secure element absent...). */
int prov_port_keystore_init(prov_keystore_t *p_out);

/* How the TLS client proves possession of the ACTIVE key (one of the three is set). */
typedef struct prov_port_tls_identity {
    const uint8_t *key_der;   /* NVS store: private key DER, valid until prov_port_tls_identity_release() */
    size_t key_der_len;
    void *ds_data;            /* DS store: esp_ds_data_ctx_t * for esp-tls */
    bool use_secure_element;  /* ATECC608: esp-tls signs in the secure element (slot 0) */
} prov_port_tls_identity_t;

/*
 * The TLS identity of the ACTIVE key, for the MQTT client inside this device.
 * Never reachable from the wire: the protocol has no command that reads a
 * private key. Returns PROV_STORAGE_OK, _NOT_FOUND, _IO.
 */
int prov_port_tls_identity(prov_port_tls_identity_t *p_out);

/* Wipe and free what prov_port_tls_identity() allocated. */
void prov_port_tls_identity_release(prov_port_tls_identity_t *p_id);

/* ---- credential store (credstore_nvs.c) ---- */

void prov_port_credstore_init(prov_credstore_t *p_out);

/* ---- counter application (app_counter.c) ---- */

/* An event for the dispatcher task (prov_device_event is not thread-safe). */
typedef struct prov_port_event {
    uint8_t code;
    bool has_value;
    uint32_t value;
    char text[96];
} prov_port_event_t;

/* Fill *p_out; events are posted to the queue app_main drains with prov_port_app_next_event(). */
void prov_port_app_init(prov_app_t *p_out);

/* Next queued event, waiting at most timeout_ms. Returns true when *p_ev was filled. */
bool prov_port_app_next_event(prov_port_event_t *p_ev, uint32_t timeout_ms);

/* True once esp_wifi_start() ran (the RF then feeds the hardware RNG). */
bool prov_port_wifi_started(void);

#endif /* PROV_PORT_H */
