/*
 * The counter example: what the seed's provisioning firmware did, now a
 * product of the provision component that uses only its public API
 * (provision.h, provision_mqtt.h). On PROVISION_EVENT_CREDENTIALS_READY (at
 * boot, and so after the restart that follows every COMMIT) it joins the
 * network (network_*.c), then MQTT
 * over mutual TLS to the committed endpoint, publishing {"counter": N}
 * (QoS 1) at once and then every interval, and logging what arrives on the
 * same topic, as the reference client does.
 *
 *  - client id = thing name, endpoint and port of the set (8883);
 *  - counter 0 is queued when the app starts and goes out as soon as the
 *    connection is up, like the twin's: the first publish follows the
 *    connect, not one interval later;
 *  - the TLS client key is the handle provision_get_key() gives (DER, PSA key
 *    exported for esp-tls, the DS context, or the ATECC608), never sent anywhere;
 *  - reconnect with exponential backoff 1 s .. 32 s (our timer, not esp-mqtt's fixed delay);
 *  - while offline, QoS 1 messages wait in esp-mqtt's outbox (enqueue with store).
 *
 * What happens is reported to the host with provision_agent_report() (EVENT frames).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "mqtt_client.h"

#include "counter.h"
#include "network.h"
#include "provision_mqtt.h"

#if !CONFIG_MQTT_TRANSPORT_SSL
#error "the counter connects with mqtts:// (mutual TLS): CONFIG_MQTT_TRANSPORT_SSL must be on"
#endif
#if !CONFIG_MQTT_USE_CUSTOM_CONFIG || CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS < 300000
/* Without the custom configuration esp-mqtt drops queued messages after 30 s offline. */
#error "counters queued while offline must survive 5 minutes: CONFIG_MQTT_USE_CUSTOM_CONFIG=y, CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS>=300000"
#endif

#define MQTT_KEEPALIVE_S 60
/* How long start() waits for esp-mqtt's task to run (see started below). */
#define MQTT_TASK_START_WAIT_MS 2000u
#define PUBLISHED_TRACK 8u /* msg_id -> counter for PUBLISHED events */
/* The protocol's ERR_CRYPTO (docs/protocol.md): a TLS or MQTT failure. */
#define MQTT_ERROR_CODE 11u

static const char *TAG = "counter";

typedef struct app_state {
    bool started;
    provision_credentials_t *p_creds; /* the committed set: the MQTT configuration points into it */
    provision_key_t key;              /* the TLS key handle */
    uint32_t interval_ms;
    uint32_t counter;
    uint32_t backoff_ms;
    esp_mqtt_client_handle_t client;
    esp_timer_handle_t publish_timer;
    esp_timer_handle_t reconnect_timer;
    bool network_started;
    struct {
        int msg_id;
        uint32_t counter;
    } published[PUBLISHED_TRACK];
    unsigned published_next;
} app_state_t;

static app_state_t s_app;
/*
 * Given on MQTT_EVENT_BEFORE_CONNECT: esp-mqtt's task is running. esp-mqtt marks
 * a client running only inside its task, so a stop() and destroy() that come
 * before it (a STOP right after a COMMIT's start) would free a client that
 * task then uses; start() waits for it.
 */
static SemaphoreHandle_t s_mqtt_running;

static void report(provision_report_t what, const char *p_text, bool has_value, uint32_t value)
{
    (void)provision_agent_report(what, p_text, has_value, value); /* advisory: nobody may be listening */
}

static void schedule_reconnect(void)
{
    if (s_app.reconnect_timer == NULL || esp_timer_is_active(s_app.reconnect_timer)) {
        return;
    }
    ESP_LOGI(TAG, "reconnecting in %u ms", (unsigned)s_app.backoff_ms);
    (void)esp_timer_start_once(s_app.reconnect_timer, (uint64_t)s_app.backoff_ms * 1000u);
    s_app.backoff_ms *= 2u;
    if (s_app.backoff_ms > CONFIG_COUNTER_MQTT_BACKOFF_MAX_MS) {
        s_app.backoff_ms = CONFIG_COUNTER_MQTT_BACKOFF_MAX_MS;
    }
}

static void on_reconnect_timer(void *p_arg)
{
    (void)p_arg;
    if (s_app.client != NULL) {
        (void)esp_mqtt_client_reconnect(s_app.client);
    }
}

static void on_publish_timer(void *p_arg)
{
    char payload[48];
    int msg_id;
    int len;

    (void)p_arg;
    len = snprintf(payload, sizeof(payload), "{\"counter\": %u}", (unsigned)s_app.counter);
    /* store=true: queued in the outbox while offline, sent (QoS 1) once connected. */
    msg_id = esp_mqtt_client_enqueue(s_app.client, s_app.p_creds->topic, payload, len, 1, 0, true);
    if (msg_id < 0) {
        ESP_LOGW(TAG, "outbox full, counter %u dropped", (unsigned)s_app.counter);
    } else {
        s_app.published[s_app.published_next].msg_id = msg_id;
        s_app.published[s_app.published_next].counter = s_app.counter;
        s_app.published_next = (s_app.published_next + 1u) % PUBLISHED_TRACK;
    }
    s_app.counter++;
}

static void on_mqtt_event(void *p_arg, esp_event_base_t base, int32_t event_id, void *p_data)
{
    esp_mqtt_event_handle_t p_event = (esp_mqtt_event_handle_t)p_data;
    char topic[96];
    unsigned i;

    (void)p_arg;
    (void)base;
    switch ((esp_mqtt_event_id_t)event_id) {
    case MQTT_EVENT_BEFORE_CONNECT:
        (void)xSemaphoreGive(s_mqtt_running);
        break;
    case MQTT_EVENT_CONNECTED:
        ESP_LOGI(TAG, "MQTT connected as %s", s_app.p_creds->thing_name);
        s_app.backoff_ms = CONFIG_COUNTER_MQTT_BACKOFF_MIN_MS;
        (void)esp_mqtt_client_subscribe(s_app.client, s_app.p_creds->topic, 1);
        report(PROVISION_REPORT_MQTT_CONNECTED, s_app.p_creds->thing_name, false, 0);
        break;
    case MQTT_EVENT_DISCONNECTED:
        ESP_LOGW(TAG, "MQTT disconnected");
        report(PROVISION_REPORT_MQTT_DISCONNECTED, NULL, false, 0);
        schedule_reconnect();
        break;
    case MQTT_EVENT_PUBLISHED:
        for (i = 0; i < PUBLISHED_TRACK; i++) {
            if (s_app.published[i].msg_id == p_event->msg_id) {
                report(PROVISION_REPORT_PUBLISHED, NULL, true, s_app.published[i].counter);
                break;
            }
        }
        break;
    case MQTT_EVENT_DATA:
        (void)snprintf(topic, sizeof(topic), "%.*s", p_event->topic_len, p_event->topic);
        ESP_LOGI(TAG, "message on %s: %.*s", topic, p_event->data_len, p_event->data);
        report(PROVISION_REPORT_MESSAGE_RECEIVED, topic, false, 0);
        break;
    case MQTT_EVENT_ERROR:
        if (p_event->error_handle != NULL &&
            p_event->error_handle->error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT) {
            ESP_LOGE(TAG, "TLS/TCP error: esp-tls 0x%x, tls stack 0x%x",
                     (unsigned)p_event->error_handle->esp_tls_last_esp_err,
                     (unsigned)p_event->error_handle->esp_tls_stack_err);
        }
        report(PROVISION_REPORT_ERROR, "mqtt error", true, MQTT_ERROR_CODE);
        break;
    default:
        break;
    }
}

static void on_network_change(bool up)
{
    report(up ? PROVISION_REPORT_NETWORK_UP : PROVISION_REPORT_NETWORK_DOWN, s_app.p_creds->wifi_ssid, false, 0);
    if (up && s_app.client != NULL) {
        (void)esp_mqtt_client_reconnect(s_app.client);
    }
}

static int start_mqtt(void)
{
    esp_mqtt_client_config_t config;

    memset(&config, 0, sizeof(config));
    if (provision_mqtt_config(&config, s_app.p_creds, &s_app.key) != ESP_OK) {
        ESP_LOGE(TAG, "the key cannot be given to esp-tls");
        return -1;
    }
    config.session.keepalive = MQTT_KEEPALIVE_S;
    /* Our timer does the 1..32 s backoff; esp-mqtt's own reconnect uses a fixed delay. */
    config.network.disable_auto_reconnect = true;

    s_app.client = esp_mqtt_client_init(&config);
    if (s_app.client == NULL) {
        ESP_LOGE(TAG, "esp_mqtt_client_init failed");
        return -1;
    }
    if (s_mqtt_running == NULL) {
        s_mqtt_running = xSemaphoreCreateBinary();
    }
    (void)xSemaphoreTake(s_mqtt_running, 0);
    if (s_mqtt_running == NULL ||
        esp_mqtt_client_register_event(s_app.client, ESP_EVENT_ANY_ID, on_mqtt_event, NULL) != ESP_OK ||
        esp_mqtt_client_start(s_app.client) != ESP_OK ||
        xSemaphoreTake(s_mqtt_running, pdMS_TO_TICKS(MQTT_TASK_START_WAIT_MS)) != pdTRUE) {
        return -1;
    }
    return 0;
}

static void counter_stop(void);

static int counter_start(void)
{
    const esp_timer_create_args_t publish_args = {.callback = on_publish_timer, .name = "counter_publish"};
    const esp_timer_create_args_t reconnect_args = {.callback = on_reconnect_timer, .name = "counter_reconnect"};
    int rc = 0;

    counter_stop();
    /* The committed set and the key handle, from the component's API only. */
    if (provision_get_credentials(&s_app.p_creds) != ESP_OK || provision_get_key(&s_app.key) != ESP_OK) {
        ESP_LOGE(TAG, "no committed credentials or no active key");
        rc = -1;
    }
    s_app.started = true; /* so that stop() releases whatever was made */
    if (rc == 0) {
        s_app.interval_ms = (s_app.p_creds->publish_interval_ms != 0u) ? s_app.p_creds->publish_interval_ms
                                                                      : CONFIG_COUNTER_PUBLISH_INTERVAL_MS_DEFAULT;
        s_app.counter = 0;
        s_app.backoff_ms = CONFIG_COUNTER_MQTT_BACKOFF_MIN_MS;
    }
    if (rc == 0 && (esp_timer_create(&publish_args, &s_app.publish_timer) != ESP_OK ||
                    esp_timer_create(&reconnect_args, &s_app.reconnect_timer) != ESP_OK)) {
        rc = -1;
    }
    if (rc == 0) {
        rc = counter_network_start(s_app.p_creds->wifi_ssid, s_app.p_creds->wifi_password, on_network_change);
        s_app.network_started = (rc == 0);
    }
    if (rc == 0) rc = start_mqtt();
    if (rc == 0) {
        /* Counter 0 now, before the timer can fire: the outbox sends it the moment the connection is up. */
        on_publish_timer(NULL);
        if (esp_timer_start_periodic(s_app.publish_timer, (uint64_t)s_app.interval_ms * 1000u) != ESP_OK) {
            rc = -1;
        }
    }
    if (rc != 0) {
        counter_stop();
        report(PROVISION_REPORT_ERROR, "application did not start", true, MQTT_ERROR_CODE);
        return -1;
    }
    ESP_LOGI(TAG, "publishing {\"counter\": N} to %s every %u ms via mqtts://%s:%u", s_app.p_creds->topic,
             (unsigned)s_app.interval_ms, s_app.p_creds->endpoint, (unsigned)s_app.p_creds->port);
    return 0;
}

static void counter_stop(void)
{
    if (!s_app.started) {
        return;
    }
    if (s_app.publish_timer != NULL) {
        (void)esp_timer_stop(s_app.publish_timer);
        (void)esp_timer_delete(s_app.publish_timer);
        s_app.publish_timer = NULL;
    }
    if (s_app.reconnect_timer != NULL) {
        (void)esp_timer_stop(s_app.reconnect_timer);
        (void)esp_timer_delete(s_app.reconnect_timer);
        s_app.reconnect_timer = NULL;
    }
    if (s_app.client != NULL) {
        (void)esp_mqtt_client_stop(s_app.client);
        (void)esp_mqtt_client_destroy(s_app.client);
        s_app.client = NULL;
    }
    if (s_app.network_started) {
        counter_network_stop();
        s_app.network_started = false;
    }
    provision_free_key(&s_app.key);
    provision_free_credentials(s_app.p_creds);
    s_app.p_creds = NULL;
    s_app.started = false;
}

void counter_on_provision_event(provision_event_t event, uint32_t generation, void *p_ctx)
{
    (void)p_ctx;
    switch (event) {
    case PROVISION_EVENT_CREDENTIALS_READY:
        ESP_LOGI(TAG, "credentials of generation %u: starting", (unsigned)generation);
        (void)counter_start();
        break;
    case PROVISION_EVENT_CREDENTIALS_COMMITTED:
        /* The provision tool restarts the device right after a COMMIT (its first-publish check waits for the
         * restarted device): a connection made now would only delay that restart. READY follows the boot. */
        ESP_LOGI(TAG, "credentials of generation %u committed; the restart that follows starts them",
                 (unsigned)generation);
        break;
    case PROVISION_EVENT_STOP:
        counter_stop();
        break;
    default:
        break;
    }
}
