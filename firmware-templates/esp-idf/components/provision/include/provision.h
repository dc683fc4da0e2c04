/*
 * provision.h - the provisioning component's public API.
 *
 * What the `provision` host tool leaves on the chip (a private key made on the
 * chip, the device certificate chain, the AWS IoT endpoint, the thing name
 * and topic) and how a product's firmware uses it. Two uses:
 *
 *  - embedded agent: provision_agent_start() runs the provisioning console
 *    (the framed protocol on the board's UART, USB-Serial-JTAG or, on ESP-IDF's
 *    linux target, a pseudo-terminal) in its own task beside the product; the
 *    product hears about credentials through its event callback;
 *  - credentials only: the chip was provisioned by the provisioning firmware
 *    and then flashed with the product's own application (NVS kept);
 *    provision_init() and the getters read what provisioning left.
 *
 * The key store is chosen at build time (Kconfig PROVISION_KEYSTORE_*), so a
 * product never asks for a key form the build does not hold:
 *
 *   store                  | provision_get_key() gives       | esp-tls / esp-mqtt field
 *   -----------------------+---------------------------------+--------------------------------------
 *   nvs, nvs-encrypted v5  | PROVISION_KEY_DER (private DER) | clientkey_buf / authentication.key
 *   nvs, nvs-encrypted v6  | PROVISION_KEY_PSA (PSA key id)  | none in ESP-IDF 6.0: see provision_export_key_der()
 *   ds                     | PROVISION_KEY_DS (DS context)   | ds_data / authentication.ds_data
 *   atecc608               | PROVISION_KEY_SECURE_ELEMENT    | use_secure_element (slot 0)
 *
 * provision_mqtt.h fills an esp-mqtt configuration from these in one call.
 *
 * Every function returns esp_err_t. Buffers this API returns belong to the
 * caller, who gives them back with the matching provision_free_*() (which
 * wipes what is secret). Thread-safe: calls are serialised with the agent.
 */
#ifndef PROVISION_H
#define PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The NVS layout this build writes (docs/firmware.md, "NVS layout"); it reads this one and every older one. */
#define PROVISION_NVS_LAYOUT_VERSION 1u

/* ------------------------------------------------------------------ start */

/*
 * Prepare what the credentials live in: on the linux target the state
 * directory and its flash file; NVS (nvs_flash_init(), never erasing: the
 * partition holds the key) and the crypto library (Mbed TLS 4 keeps PSA keys
 * in NVS). Then settle the stores the way the agent does at boot: a key
 * rotation that a power cut interrupted between its two steps is finished.
 * Safe to call more than once; provision_agent_start() calls it.
 *
 * Returns ESP_OK; ESP_ERR_NVS_NO_FREE_PAGES / _NEW_VERSION_FOUND when NVS
 * needs erasing (the component never erases it: the caller decides); another
 * error when the system or crypto library did not start.
 */
esp_err_t provision_init(void);

/* -------------------------------------------------------- embedded agent */

typedef enum {
    /* A committed set exists (at start, and after every restart): connect with it. */
    PROVISION_EVENT_CREDENTIALS_READY = 1,
    /* The host committed a new set, and with a rotation a new key. The provision tool restarts the device
     * right after (READY follows the boot): most products only note it; one that is not restarted
     * reconnects with the new set here. */
    PROVISION_EVENT_CREDENTIALS_COMMITTED = 2,
    /* Stop using the credentials now (disconnect: the broker would see a duplicate client id after the
     * restart): the device restarts, or is reset to factory. Sent only after READY or COMMITTED. */
    PROVISION_EVENT_STOP = 3,
} provision_event_t;

/*
 * Runs in a task of the component's own (CONFIG_PROVISION_EVENT_TASK_STACK),
 * one event after the other, never in the console's: a slow callback does
 * not stall provisioning. It may call every function of this API. On
 * PROVISION_EVENT_STOP the restart or factory reset waits until the callback
 * returns (at most 5 s): disconnect there. generation: the committed set's
 * generation (0 with PROVISION_EVENT_STOP).
 */
typedef void (*provision_event_cb_t)(provision_event_t event, uint32_t generation, void *p_ctx);

typedef struct provision_agent_config {
    provision_event_cb_t on_event; /* may be NULL */
    void *p_ctx;                   /* passed to on_event */
} provision_agent_config_t;

/*
 * Start the provisioning console in its own task (Kconfig: its stack and
 * priority; the console, baud rates and key store of the board). Calls
 * provision_init() first. From then on the host tool can provision, rotate
 * and lock the device while the product runs; on_event says when the
 * credentials come and go. Call once.
 *
 * Returns ESP_OK, ESP_ERR_INVALID_STATE (already started), ESP_ERR_NO_MEM,
 * or what provision_init() returned.
 */
esp_err_t provision_agent_start(const provision_agent_config_t *p_config);

/* What the product tells the host, as EVENT frames of the protocol (docs/protocol.md, EVENT 0x70). */
typedef enum {
    PROVISION_REPORT_NETWORK_UP = 2,
    PROVISION_REPORT_NETWORK_DOWN = 3,
    PROVISION_REPORT_MQTT_CONNECTED = 4,
    PROVISION_REPORT_MQTT_DISCONNECTED = 5,
    PROVISION_REPORT_PUBLISHED = 6,        /* value: what was published (the counter) */
    PROVISION_REPORT_ERROR = 7,            /* value: an error code of the protocol */
    PROVISION_REPORT_MESSAGE_RECEIVED = 8, /* text: the topic */
} provision_report_t;

/*
 * Report to the host (advisory: dropped when the queue is full or no agent
 * runs). p_text may be NULL (at most 95 bytes are sent); value is sent
 * when has_value. Callable from any task, not from an ISR.
 * Returns ESP_OK, ESP_ERR_INVALID_STATE (no agent), ESP_FAIL (queue full).
 */
esp_err_t provision_agent_report(provision_report_t what, const char *p_text, bool has_value, uint32_t value);

/* ---------------------------------------------------------- credentials */

/* The committed credential set. One heap block: the strings point into it. */
typedef struct provision_credentials {
    uint32_t generation;          /* 1 for the first commit, +1 for each later one */
    const char *endpoint;         /* MQTT host: the AWS IoT data endpoint */
    uint16_t port;                /* MQTT port, usually 8883 */
    const char *thing_name;       /* the AWS IoT thing; also the MQTT client id (the policy requires it) */
    const char *client_id;        /* = thing_name */
    const char *topic;            /* the topic the device's policy lets it publish and subscribe to */
    const char *cert_chain_pem;   /* device certificate (chain), PEM */
    const char *ca_pem;           /* root CAs of the endpoint, PEM */
    uint32_t publish_interval_ms; /* the host's suggestion for periodic publishing (0: none given) */
    const char *wifi_ssid;        /* "" when the set has none */
    const char *wifi_password;    /* "" when the set has none; wiped by provision_free_credentials() */
} provision_credentials_t;

/*
 * The committed set: *pp_out is allocated here, the caller frees it with
 * provision_free_credentials(). Returns ESP_OK, ESP_ERR_NOT_FOUND (nothing
 * committed), ESP_ERR_INVALID_ARG, ESP_ERR_NO_MEM, ESP_ERR_NOT_SUPPORTED
 * (written by a newer NVS layout), ESP_FAIL (NVS unreadable, or the stored
 * set corrupt: its SHA-256 does not match).
 */
esp_err_t provision_get_credentials(provision_credentials_t **pp_out);

/* Wipe and free what provision_get_credentials() returned. NULL is fine. */
void provision_free_credentials(provision_credentials_t *p_creds);

/* ------------------------------------------------------------------- key */

typedef enum {
    PROVISION_KEY_DER = 1,            /* private key DER (SEC1 or PKCS#1), Mbed TLS 3 (ESP-IDF v5) */
    PROVISION_KEY_PSA = 2,            /* persistent PSA key id, Mbed TLS 4 (ESP-IDF v6) */
    PROVISION_KEY_DS = 3,             /* esp_ds_data_ctx_t for the DS peripheral */
    PROVISION_KEY_SECURE_ELEMENT = 4, /* the ATECC608's slot */
} provision_key_kind_t;

/* The key type names of the protocol ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072"). */
typedef struct provision_key {
    provision_key_kind_t kind;
    const char *key_type;
    /* PROVISION_KEY_DER; on v6 after provision_export_key_der(). Owned by this handle. */
    const uint8_t *p_der;
    size_t der_len;
    /* PROVISION_KEY_PSA: for mbedtls_pk_wrap_psa() / psa_sign_hash(); the key stays in PSA's storage. */
    uint32_t psa_key_id;
    /* PROVISION_KEY_DS: esp_ds_data_ctx_t *, what esp-tls's ds_data takes. Owned by the component. */
    void *p_ds_data;
    /* PROVISION_KEY_SECURE_ELEMENT: esp-tls's use_secure_element signs in this slot (esp-tls uses 0). */
    struct {
        uint8_t slot;
        uint8_t i2c_address; /* 8-bit, as cryptoauthlib takes it */
        bool trust_and_go;
    } secure_element;
} provision_key_t;

/*
 * The ACTIVE key as the TLS stack takes it for this build's key store (the
 * table at the top). The private key never leaves the device through this
 * API; it is for the device's own TLS client. Returns ESP_OK,
 * ESP_ERR_NOT_FOUND (no key), ESP_ERR_NO_MEM, ESP_ERR_NOT_SUPPORTED (newer NVS
 * layout), ESP_FAIL (store unreadable). Free with provision_free_key().
 */
esp_err_t provision_get_key(provision_key_t *p_key);

/*
 * PROVISION_KEY_PSA only: also export the key as DER into p_key->p_der, for
 * esp-tls, whose ESP-IDF 6.0 configuration takes a key buffer but no PSA key
 * id. On other kinds: ESP_OK if p_der is already set, else ESP_ERR_NOT_SUPPORTED.
 */
esp_err_t provision_export_key_der(provision_key_t *p_key);

/* Wipe and free what provision_get_key() / provision_export_key_der() made. */
void provision_free_key(provision_key_t *p_key);

#ifdef __cplusplus
}
#endif

#endif /* PROVISION_H */
