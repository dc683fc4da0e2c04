/*
 * Network on ESP-IDF's linux target: the device uses the host's network
 * through the host's sockets (esp-tls without lwIP), which is up whenever the
 * device runs. The stand-in reports it up at once, the way a chip reports
 * its Wi-Fi address, so the application goes through the same steps.
 */
#include "esp_log.h"

#include "network.h"

static const char *TAG = "counter_net";

int counter_network_start(const char *p_ssid, const char *p_password, counter_network_cb_t on_change)
{
    (void)p_password;
    ESP_LOGI(TAG, "host network up (the set names Wi-Fi \"%s\"; the linux target has no radio)",
             (p_ssid != NULL) ? p_ssid : "");
    on_change(true);
    return 0;
}

void counter_network_stop(void)
{
}
