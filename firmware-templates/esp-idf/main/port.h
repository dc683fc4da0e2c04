/*
 * port.h - what the ESP-IDF port's modules share with each other (never with
 * the host): the system start, the console transport, the platform
 * services, the key generation task and its entropy, the one key store and
 * credential store of this build, the network and the counter application.
 *
 * Written for ESP-IDF v5.2-v5.5 (Mbed TLS 3.6) and v6.0 (Mbed TLS 4, through
 * prov/crypto.h). Where a chip and ESP-IDF's linux target differ, each has
 * its own file behind the same declaration (*_chip.c / *_esp.c / *_wifi.c
 * versus *_linux.c / *_host.c / transport_pty.c); docs/firmware.md lists them
 * and says how each build is checked.
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

/* ---- system (system_chip.c, or system_linux.c on ESP-IDF's linux target) ---- */

/*
 * First call of app_main, before NVS: on a chip nothing to do; on the linux
 * target it takes the state directory, maps NVS onto its flash file and
 * opens the console's pseudo-terminal. Returns 0 or negative (the device
 * cannot run).
 */
int prov_port_system_init(void);

/* The device id: the chip's factory base MAC as 12 lowercase hex digits. */
const char *prov_port_device_id(void);

/* ---- console transport (transport_uart.c, transport_usb_serial_jtag.c or transport_pty.c) ---- */

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

/* ---- key generation task (keygen_task.c) and its entropy (entropy_esp.c / entropy_linux.c) ---- */

/*
 * Around key generation: make sure the RNG is truly random. On a chip the
 * hardware RNG is only random with the radio on or the SAR ADC source
 * enabled (bootloader_random_enable); on the linux target getentropy() is.
 */
void prov_port_entropy_begin(void);
void prov_port_entropy_end(void);

/*
 * Run fn(arg) in its own task at idle priority and wait for it: RSA
 * generation takes seconds (over 10 s on an ESP32) and must neither trip the
 * task watchdog nor block the idle task. prov_port_entropy_begin/end()
 * bracket it. Returns what fn returned, or PROV_STORAGE_IO if the task could
 * not start.
 */
int prov_port_keygen_run(int (*fn)(void *arg), void *arg);

/* ---- the key store of this build (keystore_nvs.c / keystore_ds.c / keystore_atecc608.c) ---- */

/* Fill *p_out with the key store functions. Returns 0 or negative (secure element absent...). */
int prov_port_keystore_init(prov_keystore_t *p_out);

/* keystore_common.c: *p_out = the store's functions in p_ops, with this build's store id and key types. */
void prov_port_keystore_fill(prov_keystore_t *p_out, const prov_keystore_t *p_ops);

/* True if this build's store may make key_type (the board's list for this store). */
bool prov_port_key_type_supported(uint8_t key_type);

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

/* ---- network (network_wifi.c, or network_host.c on the linux target) ---- */

/* Called with true once the device has an address, with false when it lost it. */
typedef void (*prov_port_network_cb_t)(bool up);

/*
 * Join the network of the committed set (Wi-Fi SSID and password; the linux
 * target uses the host's network and reports it up at once). Returns 0 or
 * negative.
 */
int prov_port_network_start(const char *p_ssid, const char *p_password, prov_port_network_cb_t on_change);

void prov_port_network_stop(void);

/* True while the radio runs (it then feeds the hardware RNG). */
bool prov_port_network_radio_on(void);

#endif /* PROV_PORT_H */
