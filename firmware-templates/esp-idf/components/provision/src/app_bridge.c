/*
 * Between the core's application interface and the product: the core starts
 * "the application" at boot when a set is committed and stops it before a
 * restart or a factory reset; here that becomes the product's callback
 * (PROVISION_EVENT_CREDENTIALS_READY / _STOP). The agent adds
 * PROVISION_EVENT_CREDENTIALS_COMMITTED after a COMMIT.
 *
 * The callback runs in a task of its own, not the agent's: a product that
 * stops and starts an MQTT client there (seconds, on a slow network) must
 * not leave the host's next frame (the RESTART after COMMIT) unanswered.
 * STOP is the one event the agent waits for, without its lock so the
 * callback may use the API: the product disconnects before the restart, or
 * the broker would see the next boot's connection as a duplicate client.
 *
 * The product's reports go the other way, through a queue, to the agent
 * task, which alone may send EVENT frames (prov_device_event() is not
 * thread-safe).
 */
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "esp_log.h"

#include "port.h"

#define REPORT_QUEUE_LENGTH 16
#define PRODUCT_QUEUE_LENGTH 4
/* How long a restart or factory reset waits for the product to stop. */
#define STOP_WAIT_MS 5000u

typedef struct product_event {
    provision_event_t event;
    uint32_t generation;
} product_event_t;

static const char *TAG = "provision";
static QueueHandle_t s_to_product;
static SemaphoreHandle_t s_stopped; /* given once the product's STOP callback returned */
static TaskHandle_t s_product_task;

static QueueHandle_t s_reports;
static provision_agent_config_t s_product;
static bool s_reporting; /* an agent runs: reports have somewhere to go */
/* The product was given credentials (READY or COMMITTED) and not yet told STOP. */
static bool s_delivered;

static void product_task(void *p_arg)
{
    product_event_t ev;

    (void)p_arg;
    for (;;) {
        if (xQueueReceive(s_to_product, &ev, portMAX_DELAY) == pdTRUE) {
            s_product.on_event(ev.event, ev.generation, s_product.p_ctx);
            if (ev.event == PROVISION_EVENT_STOP) {
                (void)xSemaphoreGive(s_stopped);
            }
        }
    }
}

/* Queue an event for the product's task; false when nobody listens. */
static bool tell_product(provision_event_t event, uint32_t generation)
{
    const product_event_t ev = {.event = event, .generation = generation};

    s_delivered = (event != PROVISION_EVENT_STOP);
    return (s_product_task != NULL) && (xQueueSend(s_to_product, &ev, portMAX_DELAY) == pdTRUE);
}

void prov_port_app_withdraw(void)
{
    /* The core stops only what it started at boot; a set delivered after a COMMIT must stop too. */
    if (!s_delivered) {
        return;
    }
    (void)xSemaphoreTake(s_stopped, 0); /* nothing stale */
    if (!tell_product(PROVISION_EVENT_STOP, 0u)) {
        return;
    }
    /* The agent task holds the lock once here (inside the core's dispatch): the callback may need it. */
    prov_port_unlock();
    if (xSemaphoreTake(s_stopped, pdMS_TO_TICKS(STOP_WAIT_MS)) != pdTRUE) {
        ESP_LOGW(TAG, "the product did not stop within %u ms; going on", (unsigned)STOP_WAIT_MS);
    }
    prov_port_lock();
}

static int app_start(void *p_ctx, const prov_credentials_t *p_creds)
{
    (void)p_ctx;
    /* The product reads the set itself (provision_get_credentials): the core's views die when this returns. */
    (void)tell_product(PROVISION_EVENT_CREDENTIALS_READY, p_creds->generation);
    return 0;
}

static void app_stop(void *p_ctx)
{
    (void)p_ctx;
    prov_port_app_withdraw();
}

void prov_port_app_committed(uint32_t generation)
{
    (void)tell_product(PROVISION_EVENT_CREDENTIALS_COMMITTED, generation);
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
    if (agent && p_config->on_event != NULL && s_product_task == NULL) {
        s_to_product = xQueueCreate(PRODUCT_QUEUE_LENGTH, sizeof(product_event_t));
        s_stopped = xSemaphoreCreateBinary();
        if (s_to_product == NULL || s_stopped == NULL ||
            xTaskCreate(product_task, "provision_cb", CONFIG_PROVISION_EVENT_TASK_STACK, NULL,
                        CONFIG_PROVISION_AGENT_TASK_PRIORITY, &s_product_task) != pdPASS) {
            return -1;
        }
    }
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
