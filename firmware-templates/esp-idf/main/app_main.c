/*
 * app_main: wires the ESP-IDF port to the portable core's dispatcher and runs
 * the one loop that owns the device context (bytes in -> frames -> answers;
 * timers; application events out as EVENT frames).
 */
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_event.h"
#include "esp_log.h"
#include "nvs_flash.h"

#include "port.h"
#include "prov/crypto.h"
#include "prov/device.h"

/* The core polls timers at least every 50 ms (device.h); reads wait at most this long. */
#define READ_TIMEOUT_MS 20u
#define READ_CHUNK_BYTES 512u

static const char *TAG = "provision";

/* About 30 KB: static, never on a task stack. */
static prov_device_t s_device;

static esp_err_t storage_init(void)
{
    /* With NVS encryption on (sdkconfig), nvs_flash_init() sets up the keys itself. */
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Never erase here: the partition may hold the device's key. The host sees ERR_STORAGE. */
        ESP_LOGE(TAG, "NVS needs erasing (%s); refusing to erase keys automatically", esp_err_to_name(err));
    } else if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_flash_init: %s", esp_err_to_name(err));
    }
    return err;
}

void app_main(void)
{
    prov_device_config_t config;
    prov_port_event_t event;
    uint8_t buf[READ_CHUNK_BYTES];
    size_t n;

    memset(&config, 0, sizeof(config));
    if (prov_port_system_init() != 0) {
        ESP_LOGE(TAG, "system start failed; provisioning is unavailable");
        return;
    }
    (void)storage_init();
    /* After NVS: with Mbed TLS 4 the keys live in PSA's storage, which is in NVS. */
    if (prov_crypto_init() != 0) {
        ESP_LOGE(TAG, "crypto library did not start; key generation will fail");
    }
    ESP_ERROR_CHECK(esp_event_loop_create_default());

    if (prov_port_transport_init(&config.transport) != 0) {
        ESP_LOGE(TAG, "console transport failed; provisioning is unavailable");
        return;
    }
    prov_port_platform_init(&config.platform);
    if (prov_port_keystore_init(&config.keystore) != 0) {
        /* Keep answering HELLO/STATUS: the host reports the storage error with this log. */
        ESP_LOGE(TAG, "key store did not initialise");
    }
    prov_port_credstore_init(&config.credstore);
    prov_port_app_init(&config.app);
    config.baud_initial = PROV_BAUD_DEFAULT;

    if (prov_device_init(&s_device, &config) != PROV_OK) {
        ESP_LOGE(TAG, "prov_device_init failed (a port function is missing)");
        return;
    }
    (void)prov_device_boot(&s_device);
    ESP_LOGI(TAG, "%s on %s ready, device %s", PROV_FIRMWARE_VERSION, PROV_BOARD_ID, config.platform.device_id);

    for (;;) {
        n = prov_port_transport_read(buf, sizeof(buf), READ_TIMEOUT_MS);
        if (n > 0u) {
            prov_device_feed(&s_device, buf, n);
        }
        while (prov_port_app_next_event(&event, 0)) {
            prov_device_event(&s_device, event.code, (event.text[0] != '\0') ? event.text : NULL, event.has_value,
                              event.value);
        }
        prov_device_poll(&s_device);
    }
}
