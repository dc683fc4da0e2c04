/*
 * The counter example's app_main: the product's own start-up, then one call
 * that runs the provisioning console beside it. Everything else happens in
 * counter_on_provision_event (app_counter.c) when credentials come and go.
 */
#include "esp_event.h"
#include "esp_log.h"

#include "counter.h"
#include "provision.h"

static const char *TAG = "counter";

void app_main(void)
{
    const provision_agent_config_t agent = {.on_event = counter_on_provision_event, .p_ctx = NULL};
    esp_err_t err;

    /* The default event loop: Wi-Fi and IP events of the example's network code. */
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    err = provision_agent_start(&agent);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "the provisioning agent did not start: %s", esp_err_to_name(err));
    }
}
