/*
 * The two ways in: provision_init() (storage for a product that only reads
 * what provisioning left) and provision_agent_start() (the provisioning
 * console in its own task, beside the product).
 *
 * The agent task owns the core's device context and runs the one loop that
 * was the provisioning firmware's app_main: read the console (20 ms) ->
 * prov_device_feed, drain the product's reports -> prov_device_event,
 * prov_device_poll. One recursive lock serialises the core, the stores and
 * the crypto library between this task and the product's getters.
 */
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "esp_log.h"
#include "nvs_flash.h"

#include "port.h"
#include "prov/crypto.h"
#include "prov/device.h"

/* The core polls timers at least every 50 ms (device.h); reads wait at most this long. */
#define READ_TIMEOUT_MS 20u
#define READ_CHUNK_BYTES 512u

static const char *TAG = "provision";

static SemaphoreHandle_t s_lock;
static StaticSemaphore_t s_lock_buffer;
static bool s_storage_ready;
static bool s_settled;
static esp_err_t s_storage_err;
static TaskHandle_t s_agent;
/* About 30 KB: static, never on a task stack. Only the agent task touches it after start. */
static prov_device_t s_device;

void prov_port_lock(void)
{
    /* Created statically on first use: the getters may come before either start function. */
    if (s_lock == NULL) {
        s_lock = xSemaphoreCreateRecursiveMutexStatic(&s_lock_buffer);
    }
    (void)xSemaphoreTakeRecursive(s_lock, portMAX_DELAY);
}

void prov_port_unlock(void)
{
    (void)xSemaphoreGiveRecursive(s_lock);
}

esp_err_t prov_port_storage_init(void)
{
    esp_err_t err;

    prov_port_lock();
    if (!s_storage_ready) {
        s_storage_ready = true;
        s_storage_err = (prov_port_system_init() == 0) ? ESP_OK : ESP_FAIL;
        if (s_storage_err != ESP_OK) {
            ESP_LOGE(TAG, "system start failed; the credentials are unavailable");
        }
        /* With NVS encryption on (sdkconfig), nvs_flash_init() sets up the keys itself. */
        err = (s_storage_err == ESP_OK) ? nvs_flash_init() : s_storage_err;
        if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
            /* Never erase here: the partition holds the device's key. The host sees ERR_STORAGE. */
            ESP_LOGE(TAG, "NVS needs erasing (%s); refusing to erase keys automatically", esp_err_to_name(err));
        } else if (err != ESP_OK && s_storage_err == ESP_OK) {
            ESP_LOGE(TAG, "nvs_flash_init: %s", esp_err_to_name(err));
        }
        if (s_storage_err == ESP_OK) {
            s_storage_err = err;
        }
        /* After NVS: with Mbed TLS 4 the keys live in PSA's storage, which is in NVS. */
        if (prov_crypto_init() != 0) {
            ESP_LOGE(TAG, "crypto library did not start");
            if (s_storage_err == ESP_OK) {
                s_storage_err = ESP_FAIL;
            }
        }
    }
    err = s_storage_err;
    prov_port_unlock();
    return err;
}

/* The transport of a core that runs without a console (provision_init): what it would send goes nowhere. */
static int silent_write(void *p_ctx, const uint8_t *p_data, size_t len)
{
    (void)p_ctx;
    (void)p_data;
    (void)len;
    return 0;
}

static int silent_set_baud(void *p_ctx, uint32_t baud)
{
    (void)p_ctx;
    (void)baud;
    return 0;
}

/* The ports of the core; the transport is the caller's; agent: the console will run. Returns 0 or negative. */
static int fill_ports(prov_device_config_t *p_config, const provision_agent_config_t *p_agent, bool agent)
{
    prov_port_platform_init(&p_config->platform);
    if (prov_port_keystore_init(&p_config->keystore) != 0) {
        /* Keep answering HELLO/STATUS: the host reports the storage error with this log. */
        ESP_LOGE(TAG, "key store did not initialise");
    }
    prov_port_credstore_init(&p_config->credstore);
    p_config->baud_initial = PROV_BAUD_DEFAULT;
    return prov_port_app_init(&p_config->app, p_agent, agent);
}

esp_err_t provision_init(void)
{
    const provision_agent_config_t no_product = {.on_event = NULL, .p_ctx = NULL};
    prov_device_config_t config;
    prov_device_t *p_device;
    esp_err_t err = prov_port_storage_init();

    if (err != ESP_OK || s_settled) {
        return err; /* settled once, here or by the agent's boot */
    }
    /*
     * Settle the stores exactly as the agent's boot does (the core's own code): staging dropped, and a
     * rotation that a power cut stopped between its two steps finished. The console is silent.
     */
    memset(&config, 0, sizeof(config));
    config.transport.write = silent_write;
    config.transport.set_baud = silent_set_baud;
    p_device = calloc(1, sizeof(*p_device));
    if (p_device == NULL) {
        return ESP_ERR_NO_MEM;
    }
    prov_port_lock();
    if (fill_ports(&config, &no_product, false) != 0 || prov_device_init(p_device, &config) != PROV_OK ||
        prov_device_boot(p_device) != PROV_OK) {
        ESP_LOGW(TAG, "the stores could not be read at start; the getters will say why");
    }
    s_settled = true;
    prov_port_unlock();
    free(p_device);
    return ESP_OK;
}

static void agent_task(void *p_arg)
{
    prov_port_event_t event;
    uint8_t buf[READ_CHUNK_BYTES];
    uint32_t generation = 0;
    size_t n;

    (void)p_arg;
    /* Boot here, not in the caller's task: the product's callback runs in this task, always. */
    prov_port_lock();
    (void)prov_device_boot(&s_device);
    prov_port_unlock();
    for (;;) {
        n = prov_port_transport_read(buf, sizeof(buf), READ_TIMEOUT_MS);
        prov_port_lock();
        if (n > 0u) {
            prov_device_feed(&s_device, buf, n);
        }
        /* After the whole COMMIT (set committed, pending key promoted): the product may reconnect. */
        if (prov_port_credstore_take_commit(&generation)) {
            prov_port_app_committed(generation);
        }
        while (prov_port_app_next_event(&event, 0)) {
            prov_device_event(&s_device, event.code, (event.text[0] != '\0') ? event.text : NULL, event.has_value,
                              event.value);
        }
        prov_device_poll(&s_device);
        prov_port_unlock();
    }
}

esp_err_t provision_agent_start(const provision_agent_config_t *p_config)
{
    const provision_agent_config_t no_product = {.on_event = NULL, .p_ctx = NULL};
    prov_device_config_t config;
    esp_err_t err = prov_port_storage_init();

    if (s_agent != NULL) {
        return ESP_ERR_INVALID_STATE;
    }
    if (err != ESP_OK && err != ESP_ERR_NVS_NO_FREE_PAGES && err != ESP_ERR_NVS_NEW_VERSION_FOUND) {
        return err; /* no console without the system (linux: no pty); an NVS to erase is the host's to see */
    }
    memset(&config, 0, sizeof(config));
    if (prov_port_transport_init(&config.transport) != 0) {
        ESP_LOGE(TAG, "console transport failed; provisioning is unavailable");
        return ESP_FAIL;
    }
    prov_port_lock();
    err = (fill_ports(&config, (p_config != NULL) ? p_config : &no_product, true) == 0) ? ESP_OK : ESP_ERR_NO_MEM;
    if (err == ESP_OK && prov_device_init(&s_device, &config) != PROV_OK) {
        ESP_LOGE(TAG, "prov_device_init failed (a port function is missing)");
        err = ESP_FAIL;
    }
    if (err == ESP_OK) {
        /* The task's boot settles the stores and tells the product PROVISION_EVENT_CREDENTIALS_READY when a
         * set is committed; the getters the product calls from its callback must not settle again. */
        s_settled = true;
        if (xTaskCreate(agent_task, "provision", CONFIG_PROVISION_AGENT_TASK_STACK, NULL,
                        CONFIG_PROVISION_AGENT_TASK_PRIORITY, &s_agent) != pdPASS) {
            err = ESP_ERR_NO_MEM;
        }
    }
    prov_port_unlock();
    if (err == ESP_OK) {
        ESP_LOGI(TAG, "%s on %s ready (provision component %s), device %s", PROV_FIRMWARE_VERSION, PROV_BOARD_ID,
                 PROVISION_COMPONENT_VERSION, config.platform.device_id);
    }
    return err;
}
