/*
 * Between the core's application interface and the product: the core starts
 * "the application" at boot when a set is committed and stops it before a
 * restart or a factory reset; here that becomes the product's callback
 * (PROVISION_EVENT_CREDENTIALS_READY / _STOP). The agent adds
 * PROVISION_EVENT_CREDENTIALS_COMMITTED after a COMMIT. The product's
 * reports go the other way, through a queue, to the agent task, which alone
 * may send EVENT frames (prov_device_event() is not thread-safe).
 */
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

#include "port.h"

#define REPORT_QUEUE_LENGTH 16

static QueueHandle_t s_reports;
static provision_agent_config_t s_product;
static bool s_reporting; /* an agent runs: reports have somewhere to go */

static void tell_product(provision_event_t event, uint32_t generation)
{
    if (s_product.on_event != NULL) {
        s_product.on_event(event, generation, s_product.p_ctx);
    }
}

static int app_start(void *p_ctx, const prov_credentials_t *p_creds)
{
    (void)p_ctx;
    /* The product reads the set itself (provision_get_credentials): the core's views die when this returns. */
    tell_product(PROVISION_EVENT_CREDENTIALS_READY, p_creds->generation);
    return 0;
}

static void app_stop(void *p_ctx)
{
    (void)p_ctx;
    tell_product(PROVISION_EVENT_STOP, 0u);
}

void prov_port_app_committed(uint32_t generation)
{
    tell_product(PROVISION_EVENT_CREDENTIALS_COMMITTED, generation);
}

int prov_port_app_init(prov_app_t *p_out, const provision_agent_config_t *p_config, bool agent)
{
    if (s_reports == NULL) {
        s_reports = xQueueCreate(REPORT_QUEUE_LENGTH, sizeof(prov_port_event_t));
    }
    s_product = *p_config;
    s_reporting = s_reporting || agent;
    memset(p_out, 0, sizeof(*p_out));
    p_out->start = app_start;
    p_out->stop = app_stop;
    return (s_reports != NULL) ? 0 : -1;
}

bool prov_port_app_next_event(prov_port_event_t *p_ev, uint32_t timeout_ms)
{
    return (s_reports != NULL) && (xQueueReceive(s_reports, p_ev, pdMS_TO_TICKS(timeout_ms)) == pdTRUE);
}

esp_err_t provision_agent_report(provision_report_t what, const char *p_text, bool has_value, uint32_t value)
{
    prov_port_event_t ev = {.code = (uint8_t)what, .has_value = has_value, .value = value};

    if (s_reports == NULL || !s_reporting) {
        return ESP_ERR_INVALID_STATE;
    }
    if (p_text != NULL) {
        (void)snprintf(ev.text, sizeof(ev.text), "%s", p_text);
    }
    /* Advisory: dropped when the agent is behind, never blocking the product. */
    return (xQueueSend(s_reports, &ev, 0) == pdTRUE) ? ESP_OK : ESP_FAIL;
}
