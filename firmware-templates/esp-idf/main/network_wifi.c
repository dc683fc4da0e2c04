/*
 * Network on a chip: a Wi-Fi station with the SSID and password of the
 * committed set, kept in RAM only (not in Wi-Fi's own NVS store: the
 * credential store is the one place they live).
 */
#include <stdio.h>
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"

#include "network.h"

static const char *TAG = "counter_wifi";

static esp_netif_t *s_netif;
static bool s_started;
static counter_network_cb_t s_on_change;

static void on_event(void *p_arg, esp_event_base_t base, int32_t event_id, void *p_data)
{
    (void)p_arg;
    (void)p_data;
    if (base == WIFI_EVENT && event_id == WIFI_EVENT_STA_START) {
        (void)esp_wifi_connect();
    } else if (base == WIFI_EVENT && event_id == WIFI_EVENT_STA_DISCONNECTED) {
        s_on_change(false);
        (void)esp_wifi_connect(); /* the Wi-Fi driver paces its own retries */
    } else if (base == IP_EVENT && event_id == IP_EVENT_STA_GOT_IP) {
        s_on_change(true);
    }
}

int counter_network_start(const char *p_ssid, const char *p_password, counter_network_cb_t on_change)
{
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    wifi_config_t config;
    esp_err_t err;

    if (p_ssid == NULL || p_ssid[0] == '\0') {
        ESP_LOGE(TAG, "no Wi-Fi SSID in the credential set");
        return -1;
    }
    s_on_change = on_change;
    err = esp_netif_init();
    if (err == ESP_OK && s_netif == NULL) {
        s_netif = esp_netif_create_default_wifi_sta();
    }
    memset(&config, 0, sizeof(config));
    (void)snprintf((char *)config.sta.ssid, sizeof(config.sta.ssid), "%s", p_ssid);
    (void)snprintf((char *)config.sta.password, sizeof(config.sta.password), "%s", p_password);
    if (err == ESP_OK) err = esp_wifi_init(&init);
    if (err == ESP_OK) err = esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event, NULL);
    if (err == ESP_OK) err = esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_event, NULL);
    if (err == ESP_OK) err = esp_wifi_set_storage(WIFI_STORAGE_RAM);
    if (err == ESP_OK) err = esp_wifi_set_mode(WIFI_MODE_STA);
    if (err == ESP_OK) err = esp_wifi_set_config(WIFI_IF_STA, &config);
    if (err == ESP_OK) err = esp_wifi_start();
    memset(&config, 0, sizeof(config));
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "Wi-Fi start failed: %s", esp_err_to_name(err));
        return -1;
    }
    s_started = true;
    return 0;
}

void counter_network_stop(void)
{
    if (s_started) {
        (void)esp_event_handler_unregister(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event);
        (void)esp_event_handler_unregister(IP_EVENT, IP_EVENT_STA_GOT_IP, on_event);
        (void)esp_wifi_stop();
        (void)esp_wifi_deinit();
        s_started = false;
    }
}
