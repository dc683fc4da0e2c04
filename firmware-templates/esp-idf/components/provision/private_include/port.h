/*
 * port.h - what the component's modules share with each other (never with
 * the product, whose API is include/provision.h): the system start, the
 * console transport, the platform services, the key generation task and its
 * entropy, the one key store and credential store of this build, the bridge
 * between the core's application interface and the product's callback, and
 * the lock that serialises the stores between the agent and the getters.
 *
 * Written for ESP-IDF v5.2-v5.5 (Mbed TLS 3.6) and v6.0 (Mbed TLS 4, through
 * prov/crypto.h). Where a chip and ESP-IDF's linux target differ, each has
 * its own file behind the same declaration (*_chip.c / *_esp.c / *_wifi.c
 * versus *_linux.c / transport_pty.c); docs/firmware.md lists them
 * and says how each build is checked.
 */
#ifndef PROV_PORT_H
#define PROV_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provision.h"
#include "provision_config.h"
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
 * enabled (bootloader_random_enable, only while no radio runs: the product
 * may have started one); on the linux target getentropy() is.
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

/* True if this build's store may make key_type (Kconfig PROVISION_KEY_TYPE_*). */
bool prov_port_key_type_supported(uint8_t key_type);

/* The protocol's name of a wire key type ("ec-p256" ...), "unknown" for others. */
const char *prov_port_key_type_name(uint8_t key_type);

/*
 * The ACTIVE key as the TLS stack takes it (provision.h's table), for the
 * product's own TLS client. Never reachable from the wire: the protocol has
 * no command that reads a private key. Returns PROV_STORAGE_OK, _NOT_FOUND,
 * _IO. prov_port_key_export_der() adds the DER of a PSA key (esp-tls takes no
 * key id); prov_port_key_free() wipes and frees what both made.
 */
int prov_port_key_get(provision_key_t *p_key);
int prov_port_key_export_der(provision_key_t *p_key);
void prov_port_key_free(provision_key_t *p_key);

/* ---- credential store (credstore_nvs.c) ---- */

void prov_port_credstore_init(prov_credstore_t *p_out);

/*
 * True once after a COMMIT made a new set current (*p_generation = its
 * generation): the agent tells the product when the whole COMMIT is done.
 */
bool prov_port_credstore_take_commit(uint32_t *p_generation);

/*
 * The NVS layout version of namespace p_namespace (docs/firmware.md): the
 * stored "ver", or 1 when absent (the layout before the field existed).
 * Returns PROV_STORAGE_OK, or UNSUPPORTED for a newer layout than this build
 * reads. prov_port_layout_mark() writes ours into an open handle's namespace.
 */
int prov_port_layout_check(const char *p_namespace);
int prov_port_layout_mark(uint32_t nvs_handle);

/* ---- the product's side (app_bridge.c): the core's prov_app_t and the product's events ---- */

/* An event for the agent task (prov_device_event is not thread-safe). */
typedef struct prov_port_event {
    uint8_t code;
    bool has_value;
    uint32_t value;
    char text[96];
} prov_port_event_t;

/*
 * Fill *p_out: start() and stop() tell the product (p_config's callback,
 * which may be NULL). The queue for provision_agent_report() is made here;
 * reports are taken once an agent runs (agent). Returns 0 or negative (no memory).
 */
int prov_port_app_init(prov_app_t *p_out, const provision_agent_config_t *p_config, bool agent);

/* The product's callback for a COMMIT (rotation), called by the agent task. */
void prov_port_app_committed(uint32_t generation);

/*
 * PROVISION_EVENT_STOP if the product holds credentials: before a restart
 * (platform_esp.c) and a factory reset's erase (credstore_nvs.c), which the
 * core announces only for what it started at boot.
 */
void prov_port_app_withdraw(void);

/* Next queued report, waiting at most timeout_ms. Returns true when *p_ev was filled. */
bool prov_port_app_next_event(prov_port_event_t *p_ev, uint32_t timeout_ms);

/* ---- one lock over the stores and the crypto library (agent.c) ---- */

/* Taken by the agent task around every core call and by the getters; recursive (callbacks may call getters). */
void prov_port_lock(void);
void prov_port_unlock(void);

/* provision_init() without the settling of the stores: system, NVS, crypto. Idempotent. */
esp_err_t prov_port_storage_init(void);

#endif /* PROV_PORT_H */
